//! `devbox volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;
use std::io::BufRead as _;

use crate::cli::volume::{
    VolumeArgs, VolumeCommand, VolumeCreateArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::context::Context;
use crate::runtime::{remove, userns};
use crate::spec::mount::valid_volume_name;
use crate::store::volumes::VolumeRecord;
use crate::store::Store;
use crate::ui::diagnostics::{ExitStatus, UserError};

pub fn volume(args: VolumeArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match args.command {
        VolumeCommand::Create(a) => create(a, ctx),
        VolumeCommand::Ls(a) => ls(a, ctx),
        VolumeCommand::Inspect(a) => {
            let store = ctx.store()?;
            let volumes = a
                .names
                .iter()
                .map(|n| store.volume(n))
                .collect::<Result<Vec<_>, _>>()?;
            let views: Vec<View> = volumes.iter().map(|v| view(&store, v)).collect();
            ctx.printer.data(serde_json::to_string_pretty(&views)?);
            Ok(ExitStatus::Success)
        }
        VolumeCommand::Rm(a) => rm(a, ctx),
        VolumeCommand::Prune(a) => prune(a, ctx),
    }
}

fn random_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut fs_err::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(crate::spec::ids::container_id(bytes))
}

/// `KEY=VALUE` (or `KEY`, an empty value) labels.
fn labels(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn create(args: VolumeCreateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if args.driver != "local" {
        return Err(
            UserError::new(format!("volume driver `{}` is not available", args.driver))
                .with_hint("devbox has the `local` driver only")
                .into(),
        );
    }
    let name = match args.name {
        Some(name) if valid_volume_name(&name) => name,
        Some(name) => {
            return Err(UserError::new(format!("invalid volume name `{name}`"))
                .with_hint("a name is [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters)")
                .into())
        }
        // Docker names volumes without a name like container ids.
        None => random_id()?,
    };
    let store = ctx.store()?;
    let (volume, _) = store.create_volume(&name, labels(&args.labels), false)?;
    ctx.printer.data(volume.name);
    Ok(ExitStatus::Success)
}

/// Docker's `volume inspect` object.
#[derive(serde::Serialize)]
struct View<'a> {
    #[serde(rename = "CreatedAt")]
    created_at: &'a str,
    #[serde(rename = "Driver")]
    driver: &'a str,
    #[serde(rename = "Labels")]
    labels: &'a BTreeMap<String, String>,
    #[serde(rename = "Mountpoint")]
    mountpoint: String,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Options")]
    options: BTreeMap<String, String>,
    #[serde(rename = "Scope")]
    scope: &'static str,
}

fn view<'a>(store: &Store, v: &'a VolumeRecord) -> View<'a> {
    View {
        created_at: &v.created_at,
        driver: &v.driver,
        labels: &v.labels,
        mountpoint: store.volume_data(&v.name).display().to_string(),
        name: &v.name,
        options: BTreeMap::new(),
        scope: "local",
    }
}

/// One `--filter`.
enum Filter {
    Dangling(bool),
    Name(String),
    Label(String, Option<String>),
}

fn parse_filter(text: &str) -> anyhow::Result<Filter> {
    let bad = || {
        UserError::new(format!("invalid filter `{text}`"))
            .with_hint("filters: dangling=true|false, name=TEXT, label=KEY[=VALUE]")
    };
    let (key, value) = text.split_once('=').ok_or_else(bad)?;
    Ok(match key {
        "dangling" => Filter::Dangling(match value {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad().into()),
        }),
        "name" => Filter::Name(value.to_string()),
        "label" => match value.split_once('=') {
            Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
            None => Filter::Label(value.to_string(), None),
        },
        _ => return Err(bad().into()),
    })
}

fn ls(args: VolumeLsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let format = crate::ui::format::Format::parse(Some(&args.format))?;
    let store = ctx.store()?;
    let mut shown = Vec::new();
    for v in store.list_volumes()? {
        let mut keep = true;
        for f in &filters {
            keep &= match f {
                Filter::Dangling(d) => store.volume_users(&v.name)?.is_empty() == *d,
                Filter::Name(n) => v.name.contains(n.as_str()),
                Filter::Label(k, want) => match (v.labels.get(k), want) {
                    (Some(_), None) => true,
                    (Some(have), Some(want)) => have == want,
                    (None, _) => false,
                },
            };
        }
        if keep {
            shown.push(v);
        }
    }
    let p = &ctx.printer;
    if args.quiet {
        shown.iter().for_each(|v| p.data(&v.name));
    } else if format != crate::ui::format::Format::Table {
        let objects: Vec<serde_json::Value> = shown
            .iter()
            .map(|v| {
                serde_json::json!({
                    "Driver": v.driver,
                    "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                    "Mountpoint": store.volume_data(&v.name),
                    "Name": v.name,
                    "Scope": "local",
                })
            })
            .collect();
        match format {
            crate::ui::format::Format::Template(template) => template
                .render_rows(&objects)
                .iter()
                .for_each(|l| p.data(l)),
            _ => objects.iter().for_each(|o| p.data(o)),
        }
    } else {
        p.data(format!("{:<16}{}", "DRIVER", "VOLUME NAME"));
        shown
            .iter()
            .for_each(|v| p.data(format!("{:<16}{}", v.driver, v.name)));
    }
    Ok(ExitStatus::Success)
}

/// Removes a volume no container uses; its files may belong to subordinate ids, so the tree
/// goes from inside the user namespace.
fn remove_volume(store: &Store, ctx: &Context, name: &str) -> anyhow::Result<()> {
    let users = store.volume_users(name)?;
    if !users.is_empty() {
        let short: Vec<String> = users
            .iter()
            .map(|id| id[..12.min(id.len())].to_string())
            .collect();
        return Err(UserError::new(format!(
            "volume {name} is in use by container(s) {}",
            short.join(", ")
        ))
        .with_hint(
            "remove those containers first (`devbox rm -v` also removes their anonymous volumes)",
        )
        .into());
    }
    let aside = store.retire_volume(name)?;
    let (mapping, _) = userns::detect_mapping(&ctx.paths.host)?;
    remove::remove_tree(&mapping, &aside)?;
    Ok(())
}

fn rm(args: VolumeRmArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let mut failed = None;
    for name in &args.names {
        match remove_volume(&store, ctx, name) {
            Ok(()) => ctx.printer.data(name),
            // Like Docker: report each failure, remove the rest, fail at the end.
            Err(e) => {
                let (text, _) = crate::ui::diagnostics::render(&e);
                ctx.printer.error(&text);
                failed = Some(e);
            }
        }
    }
    Ok(if failed.is_some() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn prune(args: VolumePruneArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    if !args.force {
        p.prompt(if args.all {
            "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
        });
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitStatus::Success);
        }
    }
    let store = ctx.store()?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    for v in store.list_volumes()? {
        if !(v.anonymous || args.all) || !store.volume_users(&v.name)?.is_empty() {
            continue;
        }
        reclaimed += crate::store::usage::tree_size(&store.volume_data(&v.name));
        remove_volume(&store, ctx, &v.name)?;
        deleted.push(v.name);
    }
    if !deleted.is_empty() {
        p.data("Deleted Volumes:");
        deleted.iter().for_each(|n| p.data(n));
        p.data("");
    }
    p.data(format!(
        "Total reclaimed space: {}",
        crate::ui::units::human_size(reclaimed)
    ));
    Ok(ExitStatus::Success)
}
