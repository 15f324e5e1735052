//! `devbox images` / `devbox image ls`, and the column and unit formats
//! the image commands share (Docker's).

use std::time::SystemTime;

use serde_json::json;

use crate::cli::image::ImagesArgs;
use crate::context::Context;
use crate::image::Reference;
use crate::store::images::Image;
use crate::ui::diagnostics::ExitStatus;
use crate::ui::format::Format;
use crate::ui::units::{human_duration, human_size_with_precision};

pub fn images(args: ImagesArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let filter = args.repository.as_deref().map(Filter::parse).transpose()?;
    let mut images = Vec::new();
    for entry in store.list_images()? {
        let image = store.load_image(None, entry.manifest)?;
        images.push((created_time(&image), image, entry.tags));
    }
    // Newest first, like Docker.
    images.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let id = |image: &Image| {
        if args.no_trunc {
            image.id.to_string()
        } else {
            image.id.short().to_string()
        }
    };
    let mut rows = Vec::new();
    for (created, image, tags) in &images {
        let tags: Vec<Option<&Reference>> = if tags.is_empty() {
            vec![None]
        } else {
            tags.iter().map(Some).collect()
        };
        for tag in tags {
            if filter.as_ref().is_some_and(|f| !f.matches(tag)) {
                continue;
            }
            let (repository, tag) = match tag {
                Some(r) => (r.familiar_name(), r.tag.clone().unwrap_or("<none>".into())),
                None => ("<none>".to_string(), "<none>".to_string()),
            };
            rows.push(Row {
                repository,
                tag,
                digest: image.manifest_digest.to_string(),
                id: id(image),
                created: *created,
                size: image.size(),
            });
        }
    }
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for row in rows.into_iter().filter(|r| seen.insert(r.id.clone())) {
            ctx.printer.data(row.id);
        }
        return Ok(ExitStatus::Success);
    }
    let format = Format::parse(args.format.as_deref())?;
    if format != Format::Table {
        let objects: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                json!({
                    "Containers": "N/A",
                    "CreatedAt": created_at(row.created),
                    "CreatedSince": created_since(row.created),
                    "Digest": row.digest,
                    "ID": row.id,
                    "Repository": row.repository,
                    "SharedSize": "N/A",
                    "Size": human_size_with_precision(row.size, 3),
                    "Tag": row.tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size_with_precision(row.size, 3),
                })
            })
            .collect();
        match format {
            Format::Template(template) => {
                for line in template.render_rows(&objects) {
                    ctx.printer.data(line);
                }
            }
            _ => {
                for object in objects {
                    ctx.printer.data(object.to_string());
                }
            }
        }
        return Ok(ExitStatus::Success);
    }
    let mut table = vec![header(&["REPOSITORY", "TAG"], args.digests)];
    for row in rows {
        let mut cells = vec![row.repository, row.tag];
        if args.digests {
            cells.push(row.digest);
        }
        cells.extend([
            row.id,
            created_since(row.created),
            human_size_with_precision(row.size, 3),
        ]);
        table.push(cells);
    }
    for line in columns(&table) {
        ctx.printer.data(line);
    }
    Ok(ExitStatus::Success)
}

fn header(first: &[&str], digests: bool) -> Vec<String> {
    let mut cells: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    if digests {
        cells.push("DIGEST".into());
    }
    cells.extend(["IMAGE ID", "CREATED", "SIZE"].map(String::from));
    cells
}

struct Row {
    repository: String,
    tag: String,
    digest: String,
    id: String,
    created: Option<SystemTime>,
    size: u64,
}

/// `images REPOSITORY[:TAG]`: the repository must match, and the tag if given.
struct Filter {
    name: String,
    tag: Option<String>,
}

impl Filter {
    fn parse(text: &str) -> anyhow::Result<Filter> {
        let reference = Reference::parse(text)?;
        let has_tag = text
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'));
        Ok(Filter {
            name: reference.familiar_name(),
            tag: has_tag.then_some(reference.tag).flatten(),
        })
    }

    fn matches(&self, reference: Option<&Reference>) -> bool {
        reference.is_some_and(|r| {
            r.familiar_name() == self.name
                && self.tag.as_ref().is_none_or(|t| r.tag.as_ref() == Some(t))
        })
    }
}

/// When the image was created, from its config.
pub(super) fn created_time(image: &Image) -> Option<SystemTime> {
    parse_time(image.config.created.as_deref())
}

pub(super) fn parse_time(text: Option<&str>) -> Option<SystemTime> {
    text.and_then(|t| humantime::parse_rfc3339_weak(t).ok())
}

/// Go's `time.String()` in UTC, as Docker's `CreatedAt`: `2024-01-23 10:11:12 +0000 UTC`.
pub(super) fn created_at(time: Option<SystemTime>) -> String {
    let Some(time) = time else {
        return String::new();
    };
    let text = humantime::format_rfc3339_seconds(time).to_string();
    format!("{} +0000 UTC", text.trim_end_matches('Z').replace('T', " "))
}

/// Docker's `CreatedSince`: `2 hours ago`.
pub(super) fn created_since(time: Option<SystemTime>) -> String {
    match time {
        Some(t) => {
            let age = SystemTime::now().duration_since(t).unwrap_or_default();
            format!("{} ago", human_duration(age))
        }
        None => "N/A".into(),
    }
}

/// Aligned columns, three spaces apart (Docker's tabwriter settings).
pub(super) fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}", width = widths[i] + 3));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_is_gos_time_string() {
        let t = humantime::parse_rfc3339("2024-01-23T10:11:12.5Z").unwrap();
        assert_eq!(created_at(Some(t)), "2024-01-23 10:11:12 +0000 UTC");
    }

    #[test]
    fn columns_are_three_spaces_apart() {
        let rows = vec![
            vec!["REPOSITORY".to_string(), "TAG".into()],
            vec!["a".into(), "latest".into()],
        ];
        assert_eq!(
            columns(&rows),
            vec!["REPOSITORY   TAG", "a            latest"]
        );
    }

    #[test]
    fn repository_filter() {
        let f = Filter::parse("busybox").unwrap();
        assert!(f.matches(Some(&Reference::parse("busybox:1.36").unwrap())));
        assert!(!f.matches(None));
        let f = Filter::parse("busybox:1.36").unwrap();
        assert!(!f.matches(Some(&Reference::parse("busybox").unwrap())));
    }
}
