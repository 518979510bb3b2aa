//! The playbook checks. Each module looks at one thing and returns [`crate::model::Finding`]s;
//! none of them knows about the terminal.

pub mod acme_problem;
pub mod cm_reason;
pub mod explain;
pub mod ratelimit;
