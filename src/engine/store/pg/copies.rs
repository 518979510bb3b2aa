//! Every certificate a worker of a shared batch installs, kept in the database with its key,
//! so that every worker installs it in its own `--out` too. Without it a worker on another
//! machine would find the recorded file missing and order the certificate again at every run
//! (a duplicate certificate each time, toward the CA's duplicate-certificate limit). The key
//! sits beside the account key the database already holds: the same care applies (TLS, who
//! may read the tables).

use crate::engine::acme::PrivateKeyPem;
use crate::engine::store::{OrderId, StoreError};

use super::PgStore;

/// Schema 6 -> 7.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE issued_copies (
        order_id  BIGINT PRIMARY KEY REFERENCES orders(id),
        chain_pem TEXT NOT NULL,
        key_pem   TEXT NOT NULL
    );
    CREATE CONSTRAINT TRIGGER certdx_fence AFTER INSERT OR UPDATE OR DELETE ON issued_copies
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION certdx_fence();
"#;

/// A certificate and its key as the worker that issued them installed them.
#[derive(Debug)]
pub struct IssuedCopy {
    /// The chain, leaf first.
    pub chain_pem: String,
    /// The key (its `Debug` shows nothing).
    pub key: PrivateKeyPem,
}

impl PgStore {
    /// Keeps the installed chain and key of `order` for the other workers (again: replaced).
    pub fn put_issued_copy(
        &self,
        order: OrderId,
        chain_pem: &str,
        key: &PrivateKeyPem,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO issued_copies (order_id, chain_pem, key_pem) VALUES ($1, $2, $3)
                 ON CONFLICT (order_id) DO UPDATE
                 SET chain_pem = EXCLUDED.chain_pem, key_pem = EXCLUDED.key_pem",
                &[&order.0, &chain_pem, &key.expose_pem()],
            )?;
            Ok(())
        })
    }

    /// The chain and key another worker kept for `order`, if it kept them.
    pub fn issued_copy(&self, order: OrderId) -> Result<Option<IssuedCopy>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                "SELECT chain_pem, key_pem FROM issued_copies WHERE order_id = $1",
                &[&order.0],
            )?)
        })?;
        row.map(|r| -> Result<IssuedCopy, StoreError> {
            Ok(IssuedCopy {
                chain_pem: r.try_get(0)?,
                key: PrivateKeyPem::from_pem(r.try_get(1)?),
            })
        })
        .transpose()
    }
}
