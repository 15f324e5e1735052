//! `devbox login`: checks the credentials against the registry, then keeps
//! them in devbox's auth file (`~/.config/devbox/auth.json`, mode 0600).

use std::io::Read as _;

use anyhow::Context as _;

use super::pull::auth_files;
use crate::cli::registry::LoginArgs;
use crate::context::Context;
use crate::image::credentials::{registry_key, Credentials};
use crate::image::reference::DEFAULT_REGISTRY;
use crate::image::registry::{Client, ClientOptions};
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn login(args: LoginArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let registry = registry_key(args.registry.as_deref().unwrap_or(DEFAULT_REGISTRY));
    let Some(username) = args.username else {
        return Err(UserError::new("a user name is required")
            .with_hint("pass `-u USER` and `--password-stdin` (or `-p PASSWORD`)")
            .into());
    };
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the password from stdin")?;
            text.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            return Err(UserError::new("a password is required")
                .with_hint("pipe it in with `--password-stdin`, or pass `-p PASSWORD`")
                .into())
        }
    };
    let credentials = Credentials { username, password };
    let options = ClientOptions {
        tls_verify: args.tls.tls_verify,
        credentials: Some(credentials.clone()),
        warn: Some(super::pull::warn),
    };
    let what = || format!("cannot log in to `{registry}`");
    Client::connect(&registry, &options, None)
        .and_then(|client| client.verify_login())
        .with_context(what)?;
    auth_files(ctx)
        .save(&registry, &credentials)
        .with_context(what)?;
    ctx.printer.data("Login Succeeded");
    Ok(ExitStatus::Success)
}
