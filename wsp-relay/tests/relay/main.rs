//! Integration tests of the relay database; each runs on SQLite and on PostgreSQL.

mod common;

mod crash;
mod ds;
mod enroll;
mod links;
mod policy;
mod records;
mod store;
