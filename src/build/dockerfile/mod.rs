//! The Dockerfile parser: text in, typed instructions with line numbers out (pure).
//!
//! Stages, as in BuildKit:
//! - [`lexer`]: physical lines, continuations, comments, directives, heredoc markers;
//! - [`parser`]: the [`Ast`] of [`Node`]s (keyword, flags, raw arguments, lines,
//!   heredocs) and its BuildKit-compatible [`Ast::dump`];
//! - [`instruction`]: typed [`Instruction`]s with argument and flag checks;
//! - [`expand`]: Docker word expansion (`$VAR`, `${VAR:-x}`, quotes, ...), used
//!   by the build when it evaluates instructions.
//!
//! Errors are [`DockerfileError`]s naming the line; callers add the file name.

pub mod error;
pub mod expand;
pub mod instruction;
pub mod lexer;
pub mod parser;

pub use error::DockerfileError;
pub use expand::{Env, ExpandError, Expander, Expansion};
pub use instruction::{
    parse_change, parse_dockerfile, parse_instruction, parse_instructions, Instruction, Step,
};
pub use lexer::{detect_syntax, Heredoc};
pub use parser::{parse, Ast, Node};
