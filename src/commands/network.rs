//! `devbox network create|ls|inspect|rm|prune|connect|disconnect`.

use std::collections::BTreeMap;
use std::io::BufRead as _;

use crate::cli::network::{NetworkArgs, NetworkCommand, NetworkCreateArgs, NetworkLsArgs};
use crate::context::Context;
use crate::net::subnet;
use crate::runtime::network;
use crate::spec::container::NetworkAttachment;
use crate::store::networks::{NetworkRecord, NewNetwork, PREDEFINED};
use crate::store::Store;
use crate::ui::diagnostics::{ExitStatus, UserError};
use crate::ui::format::Format;

pub fn network(args: NetworkArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match args.command {
        NetworkCommand::Create(a) => create(a, ctx),
        NetworkCommand::Ls(a) => ls(a, ctx),
        NetworkCommand::Inspect(a) => {
            let store = ctx.store()?;
            let mut views = Vec::new();
            for name in &a.networks {
                views.push(view(&store, &store.network(name)?)?);
            }
            ctx.printer.data(serde_json::to_string_pretty(&views)?);
            Ok(ExitStatus::Success)
        }
        NetworkCommand::Rm(a) => {
            let store = ctx.store()?;
            for name in &a.networks {
                let record = store.network(name)?;
                remove(&store, &record)?;
                ctx.printer.data(name);
            }
            Ok(ExitStatus::Success)
        }
        NetworkCommand::Prune(a) => {
            if !a.force && !confirm(ctx) {
                return Ok(ExitStatus::Success);
            }
            let store = ctx.store()?;
            let mut deleted = Vec::new();
            for record in store.list_networks()? {
                if network::users(&store, &record.name)?.is_empty() {
                    remove(&store, &record)?;
                    deleted.push(record.name);
                }
            }
            if !deleted.is_empty() {
                ctx.printer.data("Deleted Networks:");
                deleted.iter().for_each(|n| ctx.printer.data(n));
            }
            Ok(ExitStatus::Success)
        }
        NetworkCommand::Connect(a) => {
            let store = ctx.store()?;
            let mapping = ctx.id_mapping()?;
            let attachment = NetworkAttachment {
                name: a.network,
                aliases: a.aliases,
                ip: a.ip,
            };
            network::connect(&store, &mapping, &ctx.paths.host, &a.container, attachment)?;
            Ok(ExitStatus::Success)
        }
        NetworkCommand::Disconnect(a) => {
            network::disconnect(&ctx.store()?, &a.network, &a.container)?;
            Ok(ExitStatus::Success)
        }
    }
}

fn confirm(ctx: &Context) -> bool {
    ctx.printer.prompt(
        "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ",
    );
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

fn create(args: NetworkCreateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if args.driver != "bridge" {
        return Err(
            UserError::new(format!("network driver `{}` is not available", args.driver))
                .with_hint("devbox has the `bridge` driver only")
                .into(),
        );
    }
    let subnet = args.subnet.as_deref().map(str::parse).transpose()?;
    let proc_route = ctx.paths.host.proc.join("net/route");
    let routes = subnet::host_routes(&std::fs::read_to_string(proc_route).unwrap_or_default());
    let labels: BTreeMap<String, String> = args
        .labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let new = NewNetwork {
        name: args.name,
        subnet,
        gateway: args.gateway,
        internal: args.internal,
        labels,
    };
    let record = ctx.store()?.create_network(new, &routes)?;
    ctx.printer.data(record.id);
    Ok(ExitStatus::Success)
}

/// Refused while a running container uses the network (Docker's "active endpoints").
pub(crate) fn remove(store: &Store, record: &NetworkRecord) -> anyhow::Result<()> {
    let running: Vec<String> = network::users(store, &record.name)?
        .into_iter()
        .filter(|(_, live)| *live)
        .map(|(c, _)| c.name)
        .collect();
    if !running.is_empty() {
        return Err(UserError::new(format!(
            "network {} is in use by running container(s) {}",
            record.name,
            running.join(", ")
        ))
        .with_hint("stop them first, or `devbox network disconnect` them")
        .into());
    }
    network::stop_holder(store, record);
    store.remove_network(&record.name)?;
    Ok(())
}

fn ls(args: NetworkLsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let format = Format::parse(Some(&args.format))?;
    let store = ctx.store()?;
    // The predefined modes first (Docker lists bridge, host and none), with fixed ids.
    let mut rows: Vec<serde_json::Value> = PREDEFINED
        .iter()
        .map(|(name, driver)| {
            let id = format!("{:0<64}", hex::encode(name.as_bytes()));
            serde_json::json!({"ID": id, "Name": name, "Driver": driver, "Scope": "local", "Internal": false, "Labels": ""})
        })
        .collect();
    for n in store.list_networks()? {
        rows.push(serde_json::json!({
            "ID": n.id,
            "Name": n.name,
            "Driver": n.driver,
            "Scope": "local",
            "Internal": n.internal,
            "Subnet": n.subnet.to_string(),
            "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        }));
    }
    let id = |row: &serde_json::Value| {
        let id = row["ID"].as_str().unwrap_or_default().to_string();
        if args.no_trunc {
            id
        } else {
            id[..12].to_string()
        }
    };
    let p = &ctx.printer;
    match format {
        _ if args.quiet => rows.iter().for_each(|r| p.data(id(r))),
        Format::Table => {
            p.data(format!(
                "{:<15}{:<20}{:<10}{}",
                "NETWORK ID", "NAME", "DRIVER", "SCOPE"
            ));
            for r in &rows {
                let name = r["Name"].as_str().unwrap_or_default();
                let driver = r["Driver"].as_str().unwrap_or_default();
                p.data(format!("{:<15}{:<20}{:<10}local", id(r), name, driver));
            }
        }
        Format::Json => rows.iter().for_each(|r| p.data(r)),
        Format::Template(template) => template.render_rows(&rows).iter().for_each(|l| p.data(l)),
    }
    Ok(ExitStatus::Success)
}

/// Docker's `network inspect` object, with the running containers on it.
fn view(store: &Store, n: &NetworkRecord) -> anyhow::Result<serde_json::Value> {
    let mut containers = serde_json::Map::new();
    for (record, _) in network::users(store, &n.name)? {
        let (_, state) = store.load_container(&record.id)?;
        let Some(attached) = state
            .networks
            .iter()
            .find(|a| a.network == n.name)
            .filter(|_| state.status.is_live())
        else {
            continue;
        };
        containers.insert(
            record.id.clone(),
            serde_json::json!({
                "Name": record.name,
                "IPv4Address": format!("{}/{}", attached.ip, attached.prefix),
                "MacAddress": attached.mac,
            }),
        );
    }
    Ok(serde_json::json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Config": [{"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()}],
        },
        "Internal": n.internal,
        "Attachable": false,
        "Containers": containers,
        "Options": {},
        "Labels": n.labels,
    }))
}
