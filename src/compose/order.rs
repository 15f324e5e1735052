//! Start order from `depends_on`, with cycle detection (pure).

use super::error::ComposeError;
use super::model::Project;

/// Services in an order where every service comes after its dependencies; ties are broken
/// by name so the order is stable. A cycle fails with its path: `a -> b -> a`.
/// Dependencies on services that do not exist (`required: false`) are ignored.
pub fn start_order(project: &Project) -> Result<Vec<String>, ComposeError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        project: &Project,
        name: &str,
        marks: &mut std::collections::BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), ComposeError> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let start = stack.iter().position(|s| s == name).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(name.to_string());
                return Err(ComposeError::DependencyCycle { cycle });
            }
            Mark::New => {}
        }
        marks.insert(name.to_string(), Mark::Visiting);
        stack.push(name.to_string());
        if let Some(service) = project.services.get(name) {
            for dep in service.depends_on.keys() {
                if project.services.contains_key(dep) {
                    visit(project, dep, marks, stack, out)?;
                }
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        out.push(name.to_string());
        Ok(())
    }

    let mut marks = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for name in project.services.keys() {
        visit(project, name, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Dependency, Service};

    fn project(edges: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, deps) in edges {
            let mut s = Service::default();
            for d in *deps {
                s.depends_on.insert(d.to_string(), Dependency::default());
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    #[test]
    fn dependencies_first() {
        let p = project(&[("web", &["db", "cache"]), ("db", &[]), ("cache", &["db"])]);
        assert_eq!(start_order(&p).unwrap(), ["db", "cache", "web"]);
    }

    #[test]
    fn cycles_are_named() {
        let p = project(&[
            ("service1", &["service2"]),
            ("service2", &["service3"]),
            ("service3", &["service1"]),
        ]);
        assert_eq!(
            start_order(&p).unwrap_err().to_string(),
            "dependency cycle detected: service1 -> service2 -> service3 -> service1"
        );
        let p = project(&[("a", &["a"])]);
        assert_eq!(
            start_order(&p).unwrap_err().to_string(),
            "dependency cycle detected: a -> a"
        );
    }
}
