//! Problems located by a JSON path: the shared list, as this action's modules name it.

pub use shared::problem::{Problem, Problems, join, list};
