//! `devbox ps [-a] [-q] [-s] [--filter K=V] [--format F]`.

use std::time::SystemTime;

use crate::cli::container::PsArgs;
use crate::context::Context;
use crate::runtime::inspect;
use crate::spec::filter::{ContainerFilter, FilterFacts};
use crate::ui::diagnostics::ExitStatus;
use crate::ui::format::{Format, Template};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

pub fn ps(args: PsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let filter = ContainerFilter::parse(&args.filter)?;
    let format = Format::parse(args.format.as_deref())?;
    let store = ctx.store()?;
    let now = SystemTime::now();
    // A filter on status shows stopped containers too (Docker).
    let all = args.all || filter.names_status();
    let mut rows = Vec::new();
    for (record, state) in store.list_containers()?.iter().rev() {
        let facts = FilterFacts {
            id: &record.id,
            name: &record.name,
            status: state.status.as_str(),
            exit_code: state.exit_code,
            labels: &record.labels,
            image: &record.image,
            image_id: &record.image_id.to_string(),
            health: state.health.as_ref().map_or("none", |h| h.status.as_str()),
        };
        if !(all || state.status.is_live()) || !filter.matches(&facts) {
            continue;
        }
        let size = args.size.then(|| store.container_size(&record.id));
        let mut row = inspect::ps_row(record, state, size, now);
        if args.no_trunc {
            row["ID"] = record.id.clone().into();
        } else if let Some(cmd) = row["Command"].as_str().filter(|c| c.chars().count() > 22) {
            let short: String = cmd.chars().take(20).collect();
            row["Command"] = format!("{short}…\"").into();
        }
        rows.push(row);
    }
    if args.quiet {
        for row in &rows {
            ctx.printer.data(row["ID"].as_str().unwrap_or_default());
        }
        return Ok(ExitStatus::Success);
    }
    match format {
        Format::Json => {
            for row in &rows {
                ctx.printer.data(serde_json::to_string(row)?);
            }
        }
        Format::Template(template) => {
            for line in template.render_rows(&rows) {
                ctx.printer.data(line);
            }
        }
        Format::Table => {
            let mut table = DEFAULT_TABLE.to_string();
            if args.size {
                table.push_str("\t{{.Size}}");
            }
            for line in Template::parse(&table)?.render_rows(&rows) {
                ctx.printer.data(line.trim_end());
            }
        }
    }
    Ok(ExitStatus::Success)
}
