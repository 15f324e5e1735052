//! The build plan (pure): a Dockerfile's steps grouped into stages, the
//! global ARGs resolved, the stages the target needs (FROM a stage,
//! `COPY --from`, `RUN --mount=from=`), in the order they must run.

use std::collections::{BTreeMap, BTreeSet};

use super::dockerfile::instruction::{ArgDecl, Instruction, Step};
use super::dockerfile::{ExpandError, Expander};

/// Docker's predefined build args: usable with `--build-arg` without an
/// `ARG`, passed to RUN, kept out of the image history and the cache key.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.contains(&name)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the Dockerfile has no FROM instruction")]
    NoFrom,
    #[error("line {line}: {instruction} before the first FROM (only ARG may come first)")]
    BeforeFrom { line: usize, instruction: String },
    #[error("line {line}: {source}")]
    Expand {
        line: usize,
        #[source]
        source: ExpandError,
    },
    #[error("line {line}: base name ({image:?}) should not be blank")]
    BlankBase { line: usize, image: String },
    #[error("line {line}: duplicate stage name `{name}`")]
    DuplicateStage { line: usize, name: String },
    #[error("line {line}: a stage cannot copy from itself (`--from={from}`)")]
    SelfReference { line: usize, from: String },
    #[error("target stage `{0}` could not be found")]
    UnknownTarget(String),
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image in the store, as named after expansion.
    Image(String),
    /// The result of an earlier stage (its index).
    Stage(usize),
    /// `FROM scratch`: no layers.
    Scratch,
}

/// Where `COPY --from` / `RUN --mount=from=` take files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stage(usize),
    Image(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    /// The FROM step itself.
    pub from: Step,
    pub platform: Option<String>,
    /// The steps after FROM.
    pub steps: Vec<Step>,
}

impl Stage {
    /// `[n/m]`-style label: the name when there is one.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.index.to_string())
    }
}

/// Build-wide settings that shape the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub stages: Vec<Stage>,
    /// Global ARGs (before the first FROM) with their values.
    pub meta_args: BTreeMap<String, String>,
    /// Indices of the stages to run, in order; the last is the target.
    pub order: Vec<usize>,
    /// `--build-arg`s no ARG declares (Docker warns about them).
    pub unused_args: Vec<String>,
}

impl Plan {
    pub fn target(&self) -> &Stage {
        &self.stages[*self.order.last().expect("a plan has a target")]
    }
}

/// Resolves `--from=X` against the stages before `current`: a stage name,
/// a stage index, or else an image.
pub fn resolve_source(stages: &[Stage], current: usize, from: &str) -> Source {
    let lower = from.to_ascii_lowercase();
    if let Some(s) = stages[..current.min(stages.len())]
        .iter()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Source::Stage(s.index);
    }
    match from.parse::<usize>() {
        Ok(i) if i < current => Source::Stage(i),
        _ => Source::Image(from.to_string()),
    }
}

/// Value of the `from=` option of a `--mount` flag.
pub fn mount_from(mount: &str) -> Option<&str> {
    mount
        .split(',')
        .find_map(|kv| kv.trim().strip_prefix("from="))
}

/// Groups `steps` into stages and picks the ones the target needs.
pub fn plan(steps: &[Step], escape: char, options: &PlanOptions) -> Result<Plan, PlanError> {
    let expander = Expander::new(escape);
    let mut meta_args = BTreeMap::new();
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut stages: Vec<Stage> = Vec::new();
    for step in steps {
        match &step.instruction {
            Instruction::Arg(decls) if stages.is_empty() => {
                for decl in decls {
                    declared.insert(decl.key.clone());
                    if let Some(value) = arg_value(decl, &options.build_args, &meta_args, step)? {
                        meta_args.insert(decl.key.clone(), value);
                    }
                }
            }
            Instruction::From(from) => {
                let image = expander
                    .process_word(&from.image, &meta_args)
                    .map_err(|source| PlanError::Expand {
                        line: step.start_line,
                        source,
                    })?;
                if image.is_empty() {
                    return Err(PlanError::BlankBase {
                        line: step.start_line,
                        image: from.image.clone(),
                    });
                }
                if let Some(name) = &from.stage_name {
                    if stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                        return Err(PlanError::DuplicateStage {
                            line: step.start_line,
                            name: name.clone(),
                        });
                    }
                }
                let lower = image.to_ascii_lowercase();
                let base = if lower == "scratch" {
                    Base::Scratch
                } else if let Some(s) = stages.iter().find(|s| s.name.as_deref() == Some(&lower)) {
                    Base::Stage(s.index)
                } else {
                    Base::Image(image)
                };
                stages.push(Stage {
                    index: stages.len(),
                    name: from.stage_name.clone(),
                    base,
                    from: step.clone(),
                    platform: from.platform.clone(),
                    steps: Vec::new(),
                });
            }
            other => {
                let Some(stage) = stages.last_mut() else {
                    return Err(PlanError::BeforeFrom {
                        line: step.start_line,
                        instruction: keyword(other).to_string(),
                    });
                };
                if let Instruction::Arg(decls) = other {
                    declared.extend(decls.iter().map(|d| d.key.clone()));
                }
                stage.steps.push(step.clone());
            }
        }
    }
    if stages.is_empty() {
        return Err(PlanError::NoFrom);
    }
    let target = match &options.target {
        None => stages.len() - 1,
        Some(t) => {
            let lower = t.to_ascii_lowercase();
            stages
                .iter()
                .find(|s| s.name.as_deref() == Some(lower.as_str()))
                .map(|s| s.index)
                .ok_or_else(|| PlanError::UnknownTarget(t.clone()))?
        }
    };
    let mut needed = BTreeSet::new();
    visit(&stages, target, &meta_args, &expander, &mut needed)?;
    let unused_args = options
        .build_args
        .keys()
        .filter(|k| !declared.contains(*k) && !is_proxy_arg(k))
        .cloned()
        .collect();
    Ok(Plan {
        stages,
        meta_args,
        order: needed.into_iter().collect(),
        unused_args,
    })
}

/// An ARG's value: the build arg, else its default expanded with what is
/// already defined, else unset.
pub fn arg_value(
    decl: &ArgDecl,
    build_args: &BTreeMap<String, String>,
    defined: &BTreeMap<String, String>,
    step: &Step,
) -> Result<Option<String>, PlanError> {
    if let Some(v) = build_args.get(&decl.key) {
        return Ok(Some(v.clone()));
    }
    match &decl.default {
        Some(default) => Expander::default()
            .process_word(default, defined)
            .map(Some)
            .map_err(|source| PlanError::Expand {
                line: step.start_line,
                source,
            }),
        None => Ok(defined.get(&decl.key).cloned()),
    }
}

/// Marks `index` and every stage it depends on as needed.
fn visit(
    stages: &[Stage],
    index: usize,
    meta_args: &BTreeMap<String, String>,
    expander: &Expander,
    needed: &mut BTreeSet<usize>,
) -> Result<(), PlanError> {
    if !needed.insert(index) {
        return Ok(());
    }
    let stage = &stages[index];
    if let Base::Stage(base) = stage.base {
        visit(stages, base, meta_args, expander, needed)?;
    }
    for step in &stage.steps {
        let froms: Vec<&str> = match &step.instruction {
            Instruction::Copy(c) => c.from.iter().map(String::as_str).collect(),
            Instruction::Run(r) => r.mounts.iter().filter_map(|m| mount_from(m)).collect(),
            _ => Vec::new(),
        };
        for from in froms {
            let from =
                expander
                    .process_word(from, meta_args)
                    .map_err(|source| PlanError::Expand {
                        line: step.start_line,
                        source,
                    })?;
            if stage.name.as_deref() == Some(from.to_ascii_lowercase().as_str()) {
                return Err(PlanError::SelfReference {
                    line: step.start_line,
                    from,
                });
            }
            if let Source::Stage(dep) = resolve_source(stages, index, &from) {
                visit(stages, dep, meta_args, expander, needed)?;
            }
        }
    }
    Ok(())
}

/// The keyword of an instruction, upper case.
pub fn keyword(instruction: &Instruction) -> &'static str {
    match instruction {
        Instruction::From(_) => "FROM",
        Instruction::Run(_) => "RUN",
        Instruction::Cmd(_) => "CMD",
        Instruction::Entrypoint(_) => "ENTRYPOINT",
        Instruction::Shell(_) => "SHELL",
        Instruction::Copy(_) => "COPY",
        Instruction::Add(_) => "ADD",
        Instruction::Workdir(_) => "WORKDIR",
        Instruction::Env(_) => "ENV",
        Instruction::Arg(_) => "ARG",
        Instruction::Label(_) => "LABEL",
        Instruction::User(_) => "USER",
        Instruction::Expose(_) => "EXPOSE",
        Instruction::Volume(_) => "VOLUME",
        Instruction::StopSignal(_) => "STOPSIGNAL",
        Instruction::Healthcheck(_) => "HEALTHCHECK",
        Instruction::Onbuild(_) => "ONBUILD",
        Instruction::Maintainer(_) => "MAINTAINER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse_dockerfile;

    fn plan_of(text: &str, args: &[(&str, &str)], target: Option<&str>) -> Result<Plan, PlanError> {
        let steps = parse_dockerfile(text).unwrap();
        let options = PlanOptions {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target: target.map(str::to_string),
        };
        plan(&steps, '\\', &options)
    }

    #[test]
    fn single_stage() {
        let p = plan_of("FROM busybox\nRUN echo hi\nCMD sh\n", &[], None).unwrap();
        assert_eq!(p.order, [0]);
        assert_eq!(p.target().base, Base::Image("busybox".into()));
        assert_eq!(p.target().steps.len(), 2);
    }

    #[test]
    fn global_args_expand_from_and_build_args_win() {
        let text = "ARG TAG=1.0\nARG BASE=python:${TAG}\nFROM $BASE AS app\n";
        let p = plan_of(text, &[], None).unwrap();
        assert_eq!(p.target().base, Base::Image("python:1.0".into()));
        let p = plan_of(text, &[("TAG", "3.12")], None).unwrap();
        assert_eq!(p.target().base, Base::Image("python:3.12".into()));
        assert_eq!(p.meta_args["BASE"], "python:3.12");
    }

    #[test]
    fn multi_stage_dependencies_and_target() {
        let text = "\
FROM busybox AS tools
RUN echo tools
FROM busybox AS build
RUN echo build
FROM scratch AS unused
FROM build AS test
RUN echo test
FROM busybox
COPY --from=build /out /out
COPY --from=0 /t /t
RUN --mount=type=bind,from=other-image,target=/x true
";
        let p = plan_of(text, &[], None).unwrap();
        assert_eq!(p.order, [0, 1, 4]);
        let p = plan_of(text, &[], Some("test")).unwrap();
        assert_eq!(p.order, [1, 3]);
        assert_eq!(p.stages[3].base, Base::Stage(1));
        assert_eq!(p.stages[2].base, Base::Scratch);
        assert_eq!(
            plan_of(text, &[], Some("nope")).unwrap_err(),
            PlanError::UnknownTarget("nope".into())
        );
        assert_eq!(
            resolve_source(&p.stages, 4, "other-image"),
            Source::Image("other-image".into())
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = plan_of("RUN echo\nFROM busybox\n", &[], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: RUN before the first FROM (only ARG may come first)"
        );
        assert_eq!(
            plan_of("ARG A=1\n", &[], None).unwrap_err(),
            PlanError::NoFrom
        );
        let err = plan_of("FROM a AS x\nFROM b AS x\n", &[], None).unwrap_err();
        assert!(err.to_string().starts_with("line 2: duplicate stage"));
        let err = plan_of("FROM a AS x\nCOPY --from=x a b\n", &[], None).unwrap_err();
        assert!(err.to_string().contains("itself"), "{err}");
    }

    #[test]
    fn unused_build_args_but_not_proxies() {
        let p = plan_of(
            "FROM a\nARG USED\n",
            &[("USED", "1"), ("EXTRA", "2"), ("HTTP_PROXY", "x")],
            None,
        )
        .unwrap();
        assert_eq!(p.unused_args, ["EXTRA"]);
    }

    #[test]
    fn mount_from_option() {
        assert_eq!(mount_from("type=bind,from=build,target=/x"), Some("build"));
        assert_eq!(mount_from("type=cache,target=/root/.cache"), None);
    }
}
