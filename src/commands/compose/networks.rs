//! The project's networks: `up` creates them before the containers (external ones must
//! exist), `down` removes them after the containers, as Docker Compose does.

use crate::compose::plan::{self, NetworkPlan, LABEL_PROJECT};
use crate::compose::Project;
use crate::context::Context;
use crate::store::networks::{NetworkError, NewNetwork};
use crate::store::Store;
use crate::ui::diagnostics::UserError;

/// Creates the networks the services `names` are on, unless they exist.
pub(super) fn ensure<'a>(
    store: &Store,
    project: &Project,
    names: impl IntoIterator<Item = &'a String>,
    ctx: &Context,
) -> anyhow::Result<()> {
    for network in plan::networks(project, names)? {
        ensure_one(store, project, &network, ctx)?;
    }
    Ok(())
}

fn ensure_one(
    store: &Store,
    project: &Project,
    network: &NetworkPlan,
    ctx: &Context,
) -> anyhow::Result<()> {
    match store.network(&network.name) {
        Ok(found) => {
            let ours = found.labels.get(LABEL_PROJECT) == Some(&project.name);
            if !network.external && !ours {
                ctx.printer.warn(format!(
                    "a network with name {} exists but was not created for project \"{}\": it is used as is (set `external: true` to use an existing network)",
                    network.name, project.name
                ));
            }
            return Ok(());
        }
        Err(NetworkError::NotFound(_)) if network.external => {
            return Err(UserError::new(format!(
                "network {} declared as external, but could not be found",
                network.name
            ))
            .with_hint(format!(
                "create it first: `devbox network create {}`",
                network.name
            ))
            .into());
        }
        Err(NetworkError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    fn parse<T: std::str::FromStr>(
        network: &NetworkPlan,
        what: &str,
        text: &Option<String>,
    ) -> Result<Option<T>, UserError> {
        text.as_deref()
            .map(|t| {
                t.parse().map_err(|_| {
                    UserError::new(format!(
                        "network `{}`: invalid ipam {what} `{t}`",
                        network.key
                    ))
                    .with_hint("devbox takes an IPv4 subnet such as 10.5.0.0/24 and gateway such as 10.5.0.1")
                })
            })
            .transpose()
    }
    let new = NewNetwork {
        name: network.name.clone(),
        subnet: parse(network, "subnet", &network.subnet)?,
        gateway: parse(network, "gateway", &network.gateway)?,
        internal: network.internal,
        labels: network.labels.clone(),
    };
    let routes = crate::net::subnet::host_routes(
        &std::fs::read_to_string(ctx.paths.host.proc.join("net/route")).unwrap_or_default(),
    );
    match store.create_network(new, &routes) {
        // Another `up` of the project made it meanwhile.
        Ok(_) | Err(NetworkError::Exists(_)) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot create network {} for the project",
                network.name
            )))
        }
    }
    ctx.printer
        .status(format!("Network {}  Created", network.name));
    Ok(())
}

/// Removes the networks `up` created for the project (by their project label; external ones
/// have none), once the project's containers are gone. A network still used by a running
/// container of another project is kept, and `down` fails naming it, after removing the
/// others.
pub(super) fn remove(store: &Store, project: &Project, ctx: &Context) -> anyhow::Result<()> {
    let mut in_use = Vec::new();
    for record in store.list_networks()? {
        if record.labels.get(LABEL_PROJECT) != Some(&project.name) {
            continue;
        }
        match super::super::network::remove(store, &record) {
            Ok(()) => ctx
                .printer
                .status(format!("Network {}  Removed", record.name)),
            Err(e) => in_use.push(format!("{e:#}")),
        }
    }
    if in_use.is_empty() {
        return Ok(());
    }
    Err(
        UserError::new(format!("cannot remove network: {}", in_use.join("; ")))
            .with_hint(
                "stop or disconnect the containers of other projects on it, then `down` again",
            )
            .into(),
    )
}
