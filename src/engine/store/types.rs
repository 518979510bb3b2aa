//! The values the state store keeps: ids, statuses, records, and how they map to SQL text.

use std::fmt;
use std::path::PathBuf;

use jiff::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::error::StoreError;

/// A row id in `accounts`: one ACME account per directory URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub(crate) i64);

impl AccountId {
    /// The raw row id, for logs.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A row id in `orders`, handed out by [`super::Store::begin_order`] before the newOrder request
/// is sent, so a crash between the request and its answer still leaves a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub(crate) i64);

impl OrderId {
    /// The raw row id, for logs and JSON output.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order#{}", self.0)
    }
}

/// Declares a closed set of lowercase SQL text values with lossless conversions both ways; an
/// unknown text read back from the file becomes a conversion error, never a panic.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and used in ACME JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the stored / wire text; `None` for anything unknown.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| {
                    FromSqlError::Other(
                        format!(concat!("unknown ", stringify!($name), " {:?}"), text).into(),
                    )
                })
            }
        }
    };
}

text_enum! {
    /// An order's state: RFC 8555's five, Pebble's `deactivated`, and two of our own (`new`,
    /// `abandoned`) for orders the CA never confirmed or that the engine gave up on.
    OrderStatus {
        /// Recorded before newOrder was sent (and kept when its answer was lost); the CA may or
        /// may not have created it, which the batch's reconciliation looks up.
        New => "new",
        /// Authorizations still to complete.
        Pending => "pending",
        /// All authorizations valid; finalize may be sent.
        Ready => "ready",
        /// Finalize accepted; the CA is issuing (asynchronous finalization).
        Processing => "processing",
        /// Issued.
        Valid => "valid",
        /// Failed at the CA.
        Invalid => "invalid",
        /// Pebble's status for an order whose authorization was deactivated.
        Deactivated => "deactivated",
        /// The engine gave up on it (newOrder refused, name rejected before ordering, ...).
        Abandoned => "abandoned",
    }
}

impl OrderStatus {
    /// True when nothing more will happen to the order: a resumed run skips it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Valid
                | OrderStatus::Invalid
                | OrderStatus::Deactivated
                | OrderStatus::Abandoned
        )
    }
}

text_enum! {
    /// An authorization's state as the CA last reported it (RFC 8555 section 7.1.6).
    AuthorizationStatus {
        /// Waiting for a challenge to be answered and validated.
        Pending => "pending",
        /// Validated; reusable until it expires.
        Valid => "valid",
        /// Validation failed.
        Invalid => "invalid",
        /// Deactivated by the client.
        Deactivated => "deactivated",
        /// Expired at the CA.
        Expired => "expired",
        /// Revoked by the CA.
        Revoked => "revoked",
    }
}

text_enum! {
    /// What the engine decided or learned about an authorization: the answer to "is anything
    /// pending and unknown?". Written before the engine acts on the decision.
    AuthorizationOutcome {
        /// Nothing decided yet. At the end of a run no pending authorization may be left here.
        Pending => "pending",
        /// A challenge was (or is about to be) answered; the CA will validate it.
        Answered => "answered",
        /// Validated.
        Valid => "valid",
        /// Validation failed.
        Invalid => "invalid",
        /// Knowingly not answered: it stays pending at the CA until it expires. Chosen over
        /// deactivation because Let's Encrypt counts deactivating a pending authorization as a
        /// failed validation (boulder PR 7835), which would burn the name's failure budget.
        LeftToExpire => "left_to_expire",
        /// Deactivated (decided, then confirmed by the CA when its status says so).
        Deactivated => "deactivated",
    }
}

text_enum! {
    /// A challenge's state (RFC 8555 section 7.1.6).
    ChallengeStatus {
        /// Not answered yet.
        Pending => "pending",
        /// Answered; the CA is validating.
        Processing => "processing",
        /// Validated.
        Valid => "valid",
        /// Validation failed.
        Invalid => "invalid",
    }
}

text_enum! {
    /// A challenge type the engine can solve (the scheduler keys in-flight work on it too).
    ChallengeType {
        /// HTTP-01 (RFC 8555 section 8.3).
        Http01 => "http-01",
        /// DNS-01 (RFC 8555 section 8.4).
        Dns01 => "dns-01",
        /// TLS-ALPN-01 (RFC 8737).
        TlsAlpn01 => "tls-alpn-01",
    }
}

/// The ACME account kept for one directory. `credentials` is the opaque JSON that instant-acme
/// serialises (`AccountCredentials`): it holds the account's private key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Row id.
    pub id: AccountId,
    /// The ACME directory URL the account lives on.
    pub directory_url: String,
    /// The account URL (`kid`) the CA assigned.
    pub account_url: String,
    /// instant-acme's serialised credentials (secret).
    pub credentials_json: String,
    /// Contact URLs (`mailto:`), as registered.
    pub contact: Vec<String>,
    /// When the account was first stored.
    pub created_at: Timestamp,
    /// When it was last replaced.
    pub updated_at: Timestamp,
}

// The credentials are a private key: keep them out of logs and panic messages.
impl fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("directory_url", &self.directory_url)
            .field("account_url", &self.account_url)
            .field("credentials_json", &"<redacted>")
            .field("contact", &self.contact)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// One order as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    /// Row id.
    pub id: OrderId,
    /// The account it was (or is about to be) created under.
    pub account: AccountId,
    /// The account's directory URL.
    pub directory_url: String,
    /// Normalised, sorted, deduplicated identifiers.
    pub identifiers: Vec<String>,
    /// The order URL, once the CA answered newOrder.
    pub order_url: Option<String>,
    /// Last known status.
    pub status: OrderStatus,
    /// The finalize URL, once known.
    pub finalize_url: Option<String>,
    /// Where the issued certificate was written.
    pub certificate_path: Option<PathBuf>,
    /// The last error (ACME problem detail or engine message).
    pub error: Option<String>,
    /// When [`super::Store::begin_order`] recorded it.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One authorization as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRecord {
    /// The authorization URL (unique at the CA).
    pub url: String,
    /// The normalised identifier it authorizes.
    pub identifier: String,
    /// The CA's status when last seen.
    pub status: AuthorizationStatus,
    /// When it expires at the CA, if known.
    pub expires_at: Option<Timestamp>,
    /// What the engine decided about it.
    pub outcome: AuthorizationOutcome,
    /// Why that outcome (free text for the report).
    pub why: Option<String>,
    /// Orders that share it (the CA reuses pending and valid authorizations across orders).
    pub orders: Vec<OrderId>,
    /// When first recorded.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One challenge of an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// The challenge URL.
    pub url: String,
    /// The authorization it belongs to.
    pub authorization_url: String,
    /// Its type as the CA names it (kept as text: the CA may offer types we do not solve).
    pub challenge_type: String,
    /// The token.
    pub token: String,
    /// Last known status.
    pub status: ChallengeStatus,
    /// When the engine told the CA it was ready (recorded before the request).
    pub responded_at: Option<Timestamp>,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A name's failure history on one ACME directory: what the scheduler needs to keep the name's
/// failed-validation budget and exponential backoff across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameBackoff {
    /// The normalised identifier.
    pub identifier: String,
    /// Failed validations since the last success.
    pub consecutive_failures: u32,
    /// Not before this instant, by exponential backoff.
    pub next_attempt_at: Option<Timestamp>,
    /// Failure instants still inside the budget window, oldest first.
    pub recent_failures: Vec<Timestamp>,
    /// The last failure's reason.
    pub last_error: Option<String>,
}

impl NameBackoff {
    /// A name with no failures.
    pub fn clean(identifier: impl Into<String>) -> Self {
        NameBackoff {
            identifier: identifier.into(),
            consecutive_failures: 0,
            next_attempt_at: None,
            recent_failures: Vec::new(),
            last_error: None,
        }
    }
}

/// Normalises an ACME identifier the way the store and the scheduler compare them: trimmed,
/// ASCII-lowercased, one trailing dot removed. Names must already be A-labels (punycode), as the
/// CA requires; anything else is rejected rather than guessed at.
pub fn normalize_identifier(raw: &str) -> Result<String, StoreError> {
    let trimmed = raw.trim();
    let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let invalid = || StoreError::InvalidIdentifier(raw.to_string());
    if name.is_empty() || name.len() > 253 {
        return Err(invalid());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | ':');
    if !name.chars().all(allowed) || name.split('.').any(str::is_empty) {
        return Err(invalid());
    }
    Ok(name.to_ascii_lowercase())
}

/// Normalises, sorts and deduplicates a set of identifiers: an order's identity for "was this
/// exact set already issued?".
pub fn normalize_identifiers<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, StoreError> {
    let mut out = raw
        .iter()
        .map(|r| normalize_identifier(r.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(StoreError::InvalidIdentifier(String::new()));
    }
    Ok(out)
}

/// A timestamp as stored: fixed-width RFC 3339 UTC with milliseconds, so text order is time
/// order in SQL comparisons and the file stays readable with the sqlite3 shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SqlTime(pub(crate) Timestamp);

impl SqlTime {
    pub(crate) fn text(self) -> String {
        self.0.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

impl ToSql for SqlTime {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.text()))
    }
}

impl FromSql for SqlTime {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        text.parse::<Timestamp>()
            .map(SqlTime)
            .map_err(|e| FromSqlError::Other(format!("bad timestamp {text:?}: {e}").into()))
    }
}

/// Reads an optional stored timestamp.
pub(crate) fn opt_time(t: Option<SqlTime>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// Encodes a list of strings as the JSON text kept in a column.
pub(crate) fn json_list(items: &[String]) -> String {
    // Serialising a slice of strings cannot fail.
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_string())
}

/// Decodes a JSON list column, reporting a corrupt value instead of panicking.
pub(crate) fn parse_json_list(what: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
        what,
        value: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_lowercased_and_lose_the_trailing_dot() {
        assert_eq!(
            normalize_identifier(" WWW.Example.COM. ").unwrap(),
            "www.example.com"
        );
        assert_eq!(
            normalize_identifier("*.Example.com").unwrap(),
            "*.example.com"
        );
        for bad in ["", ".", "a..b", "exa mple.com", "bücher.de", "a/b"] {
            assert!(normalize_identifier(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn identifier_sets_are_sorted_and_deduplicated() {
        let set = normalize_identifiers(&["b.example", "A.example.", "a.example"]).unwrap();
        assert_eq!(set, ["a.example", "b.example"]);
        assert!(normalize_identifiers::<&str>(&[]).is_err());
    }

    #[test]
    fn stored_time_text_sorts_like_time() {
        let a: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-01-01T00:00:00.5Z".parse().unwrap();
        let (ta, tb) = (SqlTime(a).text(), SqlTime(b).text());
        assert_eq!(ta, "2026-01-01T00:00:00.000Z");
        assert!(ta < tb);
        assert_eq!(tb.parse::<Timestamp>().unwrap(), b);
    }

    #[test]
    fn enum_text_round_trips_and_rejects_unknown() {
        for s in AuthorizationOutcome::ALL {
            assert_eq!(AuthorizationOutcome::parse(s.as_str()), Some(*s));
        }
        assert_eq!(OrderStatus::parse("PENDING"), None);
        assert!(OrderStatus::Abandoned.is_final());
        assert!(!OrderStatus::Processing.is_final());
    }
}
