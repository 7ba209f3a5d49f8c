//! Storage faults in words a person understands. SQLite reports a missing directory, a
//! read-only file, another process's lock or a full disk as terse result codes ("unable to
//! open database file", "database is locked"); this module names the cause and what to do,
//! and [`super::Error`] shows that explanation before SQLite's own message. Pure: no IO.

/// A storage fault a person can act on, recognised from SQLite's result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `SQLITE_CANTOPEN` (14): the file cannot be opened or created.
    CannotOpen,
    /// `SQLITE_READONLY` (8) or `SQLITE_PERM` (3): writes are refused.
    ReadOnly,
    /// `SQLITE_BUSY` (5) or `SQLITE_LOCKED` (6): another connection holds the lock.
    Locked,
    /// `SQLITE_FULL` (13): the disk is full or `database.max_size` was reached.
    Full,
    /// `SQLITE_IOERR` (10): the operating system failed a read or write.
    Io,
    /// `SQLITE_CORRUPT` (11) or `SQLITE_NOTADB` (26): the file is damaged or not SQLite.
    Corrupt,
}

impl Fault {
    /// The fault behind a sqlx error, if it is one of SQLite's storage faults. sqlx reports
    /// SQLite's *extended* result code; its low byte is the primary code.
    pub fn of(error: &sqlx::Error) -> Option<Fault> {
        let sqlx::Error::Database(db) = error else {
            return None;
        };
        let code: i32 = db.code()?.parse().ok()?;
        Fault::from_code(code)
    }

    /// The fault for a SQLite (primary or extended) result code.
    pub fn from_code(code: i32) -> Option<Fault> {
        Some(match code & 0xff {
            3 | 8 => Fault::ReadOnly,
            5 | 6 => Fault::Locked,
            10 => Fault::Io,
            11 | 26 => Fault::Corrupt,
            13 => Fault::Full,
            14 => Fault::CannotOpen,
            _ => return None,
        })
    }

    /// What happened and what to do, in a sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            Fault::CannotOpen => {
                "cannot open or create the database file (check that its directory exists and \
                 that revokd may create and write files there)"
            }
            Fault::ReadOnly => {
                "the database is read-only (opened with mode=ro, on a read-only file system, \
                 or a file revokd may not write); the write was refused"
            }
            Fault::Locked => {
                "the database is locked by another process (another revokd, or a sqlite3 shell \
                 with an open transaction) for longer than database.busy_timeout; the write \
                 was not made"
            }
            Fault::Full => {
                "the database is full (no space left on the disk, or database.max_size \
                 reached); the unfinished write was rolled back: free space or raise \
                 database.max_size, then run again"
            }
            Fault::Io => "the disk failed to read or write the database file",
            Fault::Corrupt => "the database file is damaged or is not a SQLite database",
        }
    }
}

/// `explanation: original message` for a recognised fault, `database error: …` otherwise.
pub(super) fn describe(error: &sqlx::Error) -> String {
    match Fault::of(error) {
        Some(fault) => format!("{}; SQLite said: {error}", fault.explanation()),
        None => format!("database error: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_and_extended_codes_map_to_the_same_fault() {
        let cases = [
            (14, Fault::CannotOpen),
            (8, Fault::ReadOnly),
            // SQLITE_READONLY_DBMOVED
            (1032, Fault::ReadOnly),
            (5, Fault::Locked),
            // SQLITE_BUSY_SNAPSHOT
            (517, Fault::Locked),
            (13, Fault::Full),
            (10, Fault::Io),
            // SQLITE_IOERR_WRITE
            (778, Fault::Io),
            (26, Fault::Corrupt),
        ];
        for (code, fault) in cases {
            assert_eq!(Fault::from_code(code), Some(fault), "code {code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE is a bug of ours, not a storage fault.
        assert_eq!(Fault::from_code(2067), None);
    }

    #[test]
    fn every_explanation_says_what_is_wrong_in_plain_words() {
        let words = [
            (Fault::CannotOpen, "directory"),
            (Fault::ReadOnly, "read-only"),
            (Fault::Locked, "locked by another process"),
            (Fault::Full, "full"),
        ];
        for (fault, word) in words {
            assert!(fault.explanation().contains(word), "{fault:?}");
        }
    }
}
