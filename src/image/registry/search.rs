//! `search`: a registry's `/v2/_catalog` filtered by the term, or Docker
//! Hub's search API for bare terms.

use serde::Deserialize;

use super::client::{Client, ClientOptions};
use super::Result;

/// One search result, Docker's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub description: String,
    pub stars: u64,
    pub official: bool,
}

/// Docker Hub's search endpoint.
const HUB_SEARCH: &str = "https://index.docker.io/v1/search";

/// Searches `registry` (None: Docker Hub) for repositories containing `term`.
pub fn search(
    registry: Option<&str>,
    term: &str,
    limit: usize,
    options: &ClientOptions,
) -> Result<Vec<Found>> {
    match registry {
        Some(registry) => {
            let client = Client::connect(registry, options, Some("registry:catalog:*"))?;
            // The catalog is paginated by the registry; ask for a generous page.
            let names = client.catalog(1000)?;
            Ok(filter_catalog(&names, term, limit)
                .into_iter()
                .map(|name| Found {
                    name: format!("{registry}/{name}"),
                    description: String::new(),
                    stars: 0,
                    official: false,
                })
                .collect())
        }
        None => {
            #[derive(Deserialize)]
            struct Page {
                #[serde(default)]
                results: Vec<HubResult>,
            }
            #[derive(Deserialize)]
            struct HubResult {
                name: String,
                #[serde(default)]
                description: Option<String>,
                #[serde(default)]
                star_count: u64,
                #[serde(default)]
                is_official: bool,
            }
            let url = format!(
                "{HUB_SEARCH}?q={}&n={limit}",
                term.replace(
                    |c: char| !c.is_ascii_alphanumeric() && !"-_.".contains(c),
                    ""
                )
            );
            let page: Page = Client::get_json(options, &url)?;
            Ok(page
                .results
                .into_iter()
                .take(limit)
                .map(|r| Found {
                    name: r.name,
                    description: r.description.unwrap_or_default(),
                    stars: r.star_count,
                    official: r.is_official,
                })
                .collect())
        }
    }
}

/// The catalog names containing `term` (all of them for an empty term), sorted.
pub fn filter_catalog(names: &[String], term: &str, limit: usize) -> Vec<String> {
    let mut out: Vec<String> = names.iter().filter(|n| n.contains(term)).cloned().collect();
    out.sort();
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_the_catalog() {
        let names: Vec<String> = ["b/python", "app", "python", "node"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(filter_catalog(&names, "python", 10), ["b/python", "python"]);
        assert_eq!(filter_catalog(&names, "python", 1), ["b/python"]);
        assert_eq!(filter_catalog(&names, "", 10).len(), 4);
    }
}
