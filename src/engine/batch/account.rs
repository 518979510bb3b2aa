//! The batch's ACME account: the one the state store keeps for the directory, else a new one
//! whose credentials are stored before anything is ordered with it.

use tokio::time::Instant;

use crate::engine::acme::{AccountOptions, AcmeClient, AcmeConfig, AcmeError};
use crate::engine::store::{AccountId, AccountRecord};

use super::error::BatchError;
use super::{SharedStore, lock_store};

/// The account in use and whether this run registered it.
pub(super) struct Account {
    pub client: AcmeClient,
    pub id: AccountId,
    pub created: bool,
}

/// Restores the stored account for `acme.directory_url`, or registers one (with `options`'
/// contact and EAB) and stores its credentials at once: new accounts are rate limited per IP
/// address, so losing one to a crash would be a waste, and every order row refers to it.
///
/// On PostgreSQL, workers starting together would each find no account and register one:
/// the look-up and the registration run under the account lock
/// ([`AccountLock`](crate::engine::store::pg::AccountLock)), so the
/// others wait, then read the account the first one stored.
pub(super) async fn open_account(
    store: &SharedStore,
    acme: &AcmeConfig,
    options: &AccountOptions,
    deadline: Instant,
) -> Result<Account, BatchError> {
    let lock = {
        let store = lock_store(store);
        match store.shared() {
            Some(pg) => Some(pg.lock_accounts()?),
            None => None,
        }
    };
    let account = open_or_register(store, acme, options, deadline).await?;
    if let Some(lock) = lock {
        lock.release()?;
    }
    Ok(account)
}

async fn open_or_register(
    store: &SharedStore,
    acme: &AcmeConfig,
    options: &AccountOptions,
    deadline: Instant,
) -> Result<Account, BatchError> {
    let stored = lock_store(store).account(&acme.directory_url)?;
    if let Some(record) = stored {
        let client = restore(&record, acme, deadline)
            .await
            .map_err(BatchError::Account)?;
        return Ok(Account {
            client,
            id: record.id,
            created: false,
        });
    }
    let client = AcmeClient::create_account(acme, options, deadline)
        .await
        .map_err(BatchError::Account)?;
    let id = lock_store(store).upsert_account(
        &acme.directory_url,
        client.account_url(),
        &client.credentials().to_string(),
        &contact_uris(options),
    )?;
    Ok(Account {
        client,
        id,
        created: true,
    })
}

/// The client for an account the state store keeps.
pub(crate) async fn restore(
    record: &AccountRecord,
    acme: &AcmeConfig,
    deadline: Instant,
) -> Result<AcmeClient, AcmeError> {
    let credentials: serde_json::Value =
        serde_json::from_str(&record.credentials_json).map_err(|_| {
            // The serde message could quote the blob, and the blob holds the key.
            AcmeError::Config("the state store's account credentials are not JSON".to_owned())
        })?;
    AcmeClient::from_credentials(acme, &credentials, deadline).await
}

/// The contact addresses of a new account as the store records them (`mailto:` URIs).
pub(crate) fn contact_uris(options: &AccountOptions) -> Vec<String> {
    options
        .contact_email
        .iter()
        .map(|e| format!("mailto:{}", e.trim().trim_start_matches("mailto:")))
        .collect()
}
