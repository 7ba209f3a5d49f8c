//! Released migrations are never edited: each one's checksum, as sqlx records it in every
//! database that applied it, is held in `migrations.lock`, and a database that applied an
//! earlier text of a migration would refuse to start.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::MIGRATOR;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[test]
fn every_migration_matches_its_released_checksum() {
    let locked: BTreeMap<i64, &str> = include_str!("migrations.lock")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (version, sum) = l.split_once(' ').expect("`VERSION CHECKSUM`");
            (version.parse().expect("a version"), sum.trim())
        })
        .collect();
    for m in MIGRATOR.iter() {
        let sum = hex(&m.checksum);
        match locked.get(&m.version) {
            Some(&want) => assert_eq!(
                sum, want,
                "migration {} was edited after its release: put the change in a new migration",
                m.version
            ),
            None => panic!(
                "migration {} is new: add `{} {sum}` to src/store/migrations.lock",
                m.version, m.version
            ),
        }
    }
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    for version in locked.keys() {
        assert!(known.contains(version), "migration {version} was removed");
    }
}
