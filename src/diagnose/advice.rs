//! Advice with the real names filled in. The catalogue's advice is written once per code and
//! says `certdx check` or `certdx renew`; a finding about a given Challenge of a given
//! Certificate says which one, so the engineer can copy the command as it stands.

use crate::model::{Finding, Kind, ObjectRef};

/// Fills the names into `f`'s advice: `certdx check` gets the finding's Challenge (or the DNS
/// name it is about), `certdx renew` gets `diagnosed` when that is a Certificate.
pub fn name_commands(diagnosed: &ObjectRef, f: &mut Finding) {
    let check = match (&f.subject, &f.target) {
        (Some(s), _) if s.kind == Kind::Challenge => Some(format!("{}/{}", s.namespace, s.name)),
        (_, Some(target)) => Some(target.clone()),
        _ => None,
    };
    if let Some(what) = check {
        f.advice = f
            .advice
            .replace("`certdx check`", &format!("`certdx check {what}`"));
    }
    if diagnosed.kind == Kind::Certificate {
        f.advice = f.advice.replace(
            "`certdx renew`",
            &format!(
                "`certdx renew {} -n {}`",
                diagnosed.name, diagnosed.namespace
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Code;

    fn obj(kind: Kind, ns: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: ns.to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn the_catalogue_commands_get_the_real_names() {
        let cert = obj(Kind::Certificate, "shop", "www");
        let mut f = Finding::new(Code::RatelimitFailedAuthorizations, "limit").with_subject(obj(
            Kind::Challenge,
            "shop",
            "www-1-2-3",
        ));
        assert!(f.advice.contains("`certdx check`"), "{}", f.advice);
        name_commands(&cert, &mut f);
        assert!(
            f.advice.contains("`certdx check shop/www-1-2-3`"),
            "{}",
            f.advice
        );

        let mut renew = Finding::new(Code::RenewalOverdue, "overdue");
        assert!(renew.advice.contains("`certdx renew`"), "{}", renew.advice);
        name_commands(&cert, &mut renew);
        assert!(
            renew.advice.contains("`certdx renew www -n shop`"),
            "{}",
            renew.advice
        );
        // An orphan is no Certificate: nothing to renew by name.
        let mut orphan = Finding::new(Code::RatelimitFailedAuthorizations, "limit");
        name_commands(&obj(Kind::Order, "shop", "o"), &mut orphan);
        assert!(!orphan.advice.contains("-n shop"), "{}", orphan.advice);
    }
}
