//! The state store on a real PostgreSQL (tests/common/pg_lab.rs): the lab itself, the same
//! record-level assertions as the SQLite store's unit tests, migrations, and the leases that
//! let several workers share one batch.

#[path = "common/pg_lab.rs"]
mod pg_lab;

use pg_lab::PgLab;

/// The lab starts a real server, hands out separate databases, and stops it when dropped.
#[test]
fn the_lab_serves_separate_databases_and_stops_on_drop() {
    let lab = PgLab::start();
    let a = lab.database();
    let b = lab.database();
    assert_ne!(a, b);
    lab.execute(&a, "CREATE TABLE only_in_a (x int)");
    lab.execute(&b, "CREATE TABLE only_in_a (x int)");
    let port = lab.port();
    drop(lab);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after the lab was dropped"
    );
}
