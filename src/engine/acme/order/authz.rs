//! An order's authorizations: read them with their challenges and key authorizations, fetch
//! one again (with the CA's own JSON when asked), answer a challenge, poll, deactivate.

use instant_acme::{AuthorizationHandle, AuthorizationStatus, ChallengeType, Identifier};
use jiff::Timestamp;
use tokio::time::Instant;

use super::super::error::{AcmeError, AcmeProblem, Operation};
use super::super::http::Exchange;
use super::super::retry::retrying;
use super::super::types::{AuthzInfo, AuthzStatus, ChallengeInfo, ChallengeKind, ChallengeStatus};
use super::{AcmeOrder, wait_for_next_poll};

impl AcmeOrder {
    /// The order's authorizations with their challenges and key authorizations. Fetches each
    /// authorization the first time; later calls answer from what was fetched (use
    /// [`AcmeOrder::refresh_authorization`] for news).
    pub async fn authorizations(&mut self, deadline: Instant) -> Result<Vec<AuthzInfo>, AcmeError> {
        let thumbprint = self.client.key_thumbprint().to_owned();
        let inner = &mut self.inner;
        let done = retrying!(
            &self.client.inner.policy,
            deadline,
            Operation::FetchAuthorizations,
            {
                let mut out = Vec::new();
                let mut authorizations = inner.authorizations();
                while let Some(handle) = authorizations.next().await {
                    out.push(describe_authz(handle?, &thumbprint));
                }
                Ok(out)
            }
        )?;
        Ok(done.value)
    }

    /// Fetches one authorization again; also returns the response's `Retry-After`.
    pub async fn refresh_authorization(
        &mut self,
        authz_url: &str,
        deadline: Instant,
    ) -> Result<(AuthzInfo, Option<Timestamp>), AcmeError> {
        let (authz, last) = self.fetch_authorization(authz_url, deadline).await?;
        Ok((authz, last.and_then(|x| x.retry_after)))
    }

    /// Fetches one authorization again and also returns its JSON exactly as the CA sent it:
    /// what instant-acme's types leave out (a challenge's `validationRecord`, Boulder's
    /// secondary-validation detail) is read from there. `None` when the CA's last answer was
    /// not a JSON object.
    pub async fn authorization_document(
        &mut self,
        authz_url: &str,
        deadline: Instant,
    ) -> Result<(AuthzInfo, Option<serde_json::Value>), AcmeError> {
        let (authz, last) = self.fetch_authorization(authz_url, deadline).await?;
        let raw = last
            .filter(|x| (200..300).contains(&x.status))
            .and_then(|x| serde_json::from_slice::<serde_json::Value>(&x.body).ok())
            .filter(serde_json::Value::is_object);
        Ok((authz, raw))
    }

    /// One authorization fetched again, with the CA's last answer to it.
    async fn fetch_authorization(
        &mut self,
        authz_url: &str,
        deadline: Instant,
    ) -> Result<(AuthzInfo, Option<Exchange>), AcmeError> {
        self.ensure_authorizations(deadline).await?;
        let thumbprint = self.client.key_thumbprint().to_owned();
        let inner = &mut self.inner;
        let done = retrying!(
            &self.client.inner.policy,
            deadline,
            Operation::FetchAuthorizations,
            {
                let mut authorizations = inner.authorizations();
                while let Some(handle) = authorizations.next().await {
                    let mut handle = handle?;
                    if handle.url() == authz_url {
                        handle.refresh().await?;
                        return Ok(describe_authz(handle, &thumbprint));
                    }
                }
                Err(instant_acme::Error::Str("authorization not in this order"))
            }
        )
        .map_err(|e| self.not_in_order(e, authz_url))?;
        Ok((done.value, done.last))
    }

    /// Tells the CA the challenge at `challenge_url` can be validated (its response is
    /// published).
    pub async fn set_challenge_ready(
        &mut self,
        challenge_url: &str,
        deadline: Instant,
    ) -> Result<(), AcmeError> {
        self.ensure_authorizations(deadline).await?;
        let inner = &mut self.inner;
        retrying!(
            &self.client.inner.policy,
            deadline,
            Operation::ChallengeReady,
            {
                let mut authorizations = inner.authorizations();
                while let Some(handle) = authorizations.next().await {
                    let mut handle = handle?;
                    let Some(kind) = handle
                        .challenges
                        .iter()
                        .find(|c| c.url == challenge_url)
                        .map(|c| c.r#type.clone())
                    else {
                        continue;
                    };
                    let mut challenge = handle
                        .challenge(kind)
                        .ok_or(instant_acme::Error::Str("challenge not in this order"))?;
                    return challenge.set_ready().await;
                }
                Err(instant_acme::Error::Str("challenge not in this order"))
            }
        )
        .map_err(|e| self.not_in_order(e, challenge_url))?;
        Ok(())
    }

    /// Polls the authorization at `authz_url` until it leaves `pending` (honouring the server's
    /// `Retry-After`, else backing off). Valid is `Ok`; anything else is
    /// [`AcmeError::AuthorizationFailed`] with the challenge's problem. Answer a challenge
    /// first: an unanswered authorization stays pending until the deadline.
    pub async fn poll_authorization(
        &mut self,
        authz_url: &str,
        deadline: Instant,
    ) -> Result<AuthzInfo, AcmeError> {
        let policy = self.client.inner.policy.clone();
        let mut backoff = policy.poll_initial;
        loop {
            let (authz, retry_after) = self.refresh_authorization(authz_url, deadline).await?;
            match authz.status {
                AuthzStatus::Valid => return Ok(authz),
                AuthzStatus::Pending => {}
                _ => {
                    return Err(AcmeError::AuthorizationFailed {
                        url: authz.url.clone(),
                        identifier: authz.ordered_name(),
                        status: authz.status.clone(),
                        problem: authz.problem().cloned().map(Box::new),
                    });
                }
            }
            wait_for_next_poll(
                retry_after,
                &mut backoff,
                &policy,
                deadline,
                Operation::FetchAuthorizations,
                format!("waiting for authorization {authz_url} to be validated"),
            )
            .await?;
        }
    }

    /// Deactivates the authorization at `authz_url` (RFC 8555 section 7.5.2), so it is not
    /// left pending and untracked. An authorization that is already final (invalid,
    /// deactivated, expired, revoked) is returned as it is. Note that Let's Encrypt counts a
    /// deactivated *pending* authorization as a failed validation.
    pub async fn deactivate_authorization(
        &mut self,
        authz_url: &str,
        deadline: Instant,
    ) -> Result<AuthzInfo, AcmeError> {
        // The cached status may be stale, and instant-acme refuses to deactivate what it
        // believes is final: ask the server first.
        let (current, _) = self.refresh_authorization(authz_url, deadline).await?;
        if !matches!(current.status, AuthzStatus::Pending | AuthzStatus::Valid) {
            return Ok(current);
        }
        let thumbprint = self.client.key_thumbprint().to_owned();
        let inner = &mut self.inner;
        let done = retrying!(
            &self.client.inner.policy,
            deadline,
            Operation::DeactivateAuthorization,
            {
                let mut authorizations = inner.authorizations();
                while let Some(handle) = authorizations.next().await {
                    let mut handle = handle?;
                    if handle.url() == authz_url {
                        if handle.status != AuthorizationStatus::Deactivated {
                            handle.deactivate().await?;
                        }
                        return Ok(describe_authz(handle, &thumbprint));
                    }
                }
                Err(instant_acme::Error::Str("authorization not in this order"))
            }
        )?;
        Ok(done.value)
    }
}

/// An authorization handle as [`AuthzInfo`]. Key authorizations are `token.thumbprint` (RFC
/// 8555 section 8.1); the DNS-01 digest comes from instant-acme.
fn describe_authz(handle: AuthorizationHandle<'_>, thumbprint: &str) -> AuthzInfo {
    let identifier = match handle.identifier().identifier {
        Identifier::Dns(name) => name.clone(),
        Identifier::Ip(ip) => ip.to_string(),
        other => other.authorized(false).to_string(),
    };
    let status = match handle.status {
        AuthorizationStatus::Pending => AuthzStatus::Pending,
        AuthorizationStatus::Valid => AuthzStatus::Valid,
        AuthorizationStatus::Invalid => AuthzStatus::Invalid,
        AuthorizationStatus::Revoked => AuthzStatus::Revoked,
        AuthorizationStatus::Expired => AuthzStatus::Expired,
        AuthorizationStatus::Deactivated => AuthzStatus::Deactivated,
    };
    let challenges = handle
        .challenges
        .iter()
        .map(|c| ChallengeInfo {
            kind: challenge_kind(&c.r#type),
            url: c.url.clone(),
            token: c.token.clone(),
            status: match c.status {
                instant_acme::ChallengeStatus::Pending => ChallengeStatus::Pending,
                instant_acme::ChallengeStatus::Processing => ChallengeStatus::Processing,
                instant_acme::ChallengeStatus::Valid => ChallengeStatus::Valid,
                instant_acme::ChallengeStatus::Invalid => ChallengeStatus::Invalid,
            },
            error: c.error.as_ref().map(|p| AcmeProblem::from_instant(p, None)),
            key_authorization: format!("{}.{thumbprint}", c.token),
            dns_txt_value: None,
        })
        .collect();
    let mut info = AuthzInfo {
        url: handle.url().to_owned(),
        identifier,
        wildcard: handle.wildcard,
        status,
        challenges,
    };
    // `challenge` borrows the handle for its whole lifetime, so it comes last; re-binding lets
    // that lifetime shrink to this function.
    let mut handle = handle;
    if let Some(challenge) = handle.challenge(ChallengeType::Dns01) {
        let value = challenge.key_authorization().dns_value();
        let url = challenge.url.clone();
        if let Some(c) = info.challenges.iter_mut().find(|c| c.url == url) {
            c.dns_txt_value = Some(value);
        }
    }
    info
}

fn challenge_kind(kind: &ChallengeType) -> ChallengeKind {
    match kind {
        ChallengeType::Http01 => ChallengeKind::Http01,
        ChallengeType::Dns01 => ChallengeKind::Dns01,
        ChallengeType::TlsAlpn01 => ChallengeKind::TlsAlpn01,
        ChallengeType::DeviceAttest01 => ChallengeKind::Other("device-attest-01".to_owned()),
        ChallengeType::Unknown(s) => ChallengeKind::Other(s.clone()),
        other => ChallengeKind::Other(format!("{other:?}")),
    }
}
