//! Where the state lives: an SQLite file (the default) or a PostgreSQL database shared by
//! several workers, as named by `--state` / `CERTDX_STATE`.

use std::fmt;
use std::path::PathBuf;

use super::Store;
use super::backend::StateStore;
use super::error::StoreError;
use super::pg::{PgStore, PgUrl};

/// A state store's location. `Display` never shows a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// An SQLite file, created 0600 if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgUrl),
}

impl StateLocation {
    /// `postgres://...` and `postgresql://...` name a PostgreSQL database (validated here);
    /// anything else is a file path.
    pub fn parse(text: &str) -> Result<StateLocation, StoreError> {
        if PgUrl::is_postgres_url(text) {
            Ok(StateLocation::Postgres(PgUrl::parse(text)?))
        } else {
            Ok(StateLocation::Sqlite(PathBuf::from(text)))
        }
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// Opens (creating and migrating as needed) the store at `location`.
pub fn open_state(location: &StateLocation) -> Result<Box<dyn StateStore>, StoreError> {
    Ok(match location {
        StateLocation::Sqlite(path) => Box::new(Store::open(path)?),
        StateLocation::Postgres(url) => Box::new(PgStore::open(url)?),
    })
}
