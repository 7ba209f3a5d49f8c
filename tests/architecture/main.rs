//! The shape of the house, read from `src/`: the top-level modules depend on each other only
//! downwards (no cycle, and no reference to a module of a higher layer than the referring
//! one's), and no state, trigger, source or mode is spelled as a string literal outside the
//! enum that owns it. Test code (`#[cfg(test)]` items and the files they declare) is exempt;
//! so are comments and `migrations/`. Reads files only; builds nothing.

mod layers;
mod source;
mod vocabulary;
