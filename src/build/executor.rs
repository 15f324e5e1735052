//! The build's one adapter to the runtime: a RUN step as a short-lived
//! rootless container on a list of layers (no image record), and the
//! user-namespace helpers that pack and unpack layers.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::layer_write::{LayerBlob, PackReport};
use crate::image::oci::{self, Descriptor, ImageConfig, Manifest, RootFs, RunConfig};
use crate::image::Digest;
use crate::paths::HostPaths;
use crate::runtime::idmap::IdMapping;
use crate::runtime::{create, launch, remove, userns, RuntimeError};
use crate::spec::container::Network;
use crate::spec::mount::BindMount;
use crate::spec::user::UserSpec;
use crate::store::images::Image;
use crate::store::Store;

/// What a RUN step executes.
#[derive(Debug, Clone)]
pub struct RunStep {
    /// diff ids, bottom layer first.
    pub layers: Vec<Digest>,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub user: Option<String>,
    pub network: Network,
    pub binds: Vec<BindMount>,
}

/// A finished RUN container: its exit code and where its upper dir is.
pub struct Finished {
    pub exit_code: i32,
    pub container_id: String,
    pub upper: PathBuf,
}

/// Paths bind-mounted or created by the runtime in every container; they
/// are not layer content.
pub const MOUNT_STUBS: [&str; 6] = [
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "proc",
    "sys",
    "dev",
];

/// Pulls an image a build needs (`FROM`, `COPY --from`) from its registry into the
/// store; the command provides it (registry client, credentials, progress).
pub trait ImagePuller {
    fn pull(&self, name: &str) -> Result<(), String>;
}

pub struct Runtime<'a> {
    pub store: &'a Store,
    /// Pulls missing base images; `None` where the caller does not pull.
    pub puller: Option<&'a dyn ImagePuller>,
    pub mapping: IdMapping,
    pub host: &'a HostPaths,
    /// `-q`: RUN output is discarded instead of going to stderr.
    pub quiet: bool,
}

impl Runtime<'_> {
    /// Runs `step` in a new container and waits for it. The container stays
    /// (so its upper dir can be packed); [`Runtime::discard`] removes it.
    pub fn run(&self, step: &RunStep) -> Result<Finished, RuntimeError> {
        let config = ImageConfig {
            architecture: oci::host_architecture().into(),
            os: "linux".into(),
            config: RunConfig {
                env: Some(step.env.clone()),
                working_dir: Some(step.workdir.clone()),
                user: step.user.clone(),
                ..RunConfig::default()
            },
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: step.layers.clone(),
            },
            ..ImageConfig::default()
        };
        let bytes = serde_json::to_vec(&config).unwrap_or_default();
        let id = Digest::of(&bytes);
        let image = Image {
            reference: None,
            manifest_digest: id.clone(),
            manifest: Manifest {
                schema_version: 2,
                media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
                config: Descriptor::new(oci::MEDIA_TYPE_CONFIG, id.clone(), bytes.len() as u64),
                layers: Vec::new(),
                annotations: Default::default(),
            },
            id,
            config,
        };
        let user = step
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(UserSpec::parse)
            .transpose()
            .map_err(|e| RuntimeError::Setup(e.to_string()))?;
        let request = create::Request {
            image_name: "devbox-build".into(),
            name: None,
            hostname: None,
            env: Vec::new(),
            workdir: Some(step.workdir.clone()),
            user,
            binds: step.binds.clone(),
            volumes: Vec::new(),
            tmpfs: Vec::new(),
            ports: Vec::new(),
            publish_all: false,
            read_only: false,
            extra_hosts: Vec::new(),
            network: step.network,
            net: Default::default(),
            entrypoint: Some(step.argv.clone()),
            args: Vec::new(),
            tty: false,
            interactive: false,
            // The builder removes the step's container once its upper dir is read; marked so
            // its overlay is mounted volatile (no sync of the host filesystem per step).
            auto_remove: true,
            restart: Default::default(),
            init: false,
            stop_signal: None,
            stop_timeout: None,
            health: crate::spec::health::HealthOverrides {
                disabled: true,
                ..Default::default()
            },
            labels: Default::default(),
            keep_id: None,
            security: Default::default(),
        };
        let (record, dirs) = create::create(self.store, &image, &request)?;
        let result = {
            let _redirect = Redirect::stdout(self.quiet)?;
            launch::run_foreground(launch::Target {
                store: self.store,
                mapping: &self.mapping,
                host: self.host,
                image: &image,
                record: &record,
                dirs: &dirs,
                driver: crate::runtime::rootfs::choose_inherited(self.store, &self.mapping)?,
            })
        };
        let exit_code = match result {
            Ok(code) => code,
            Err(e @ RuntimeError::Exec { .. }) => {
                self.discard(&record.id);
                return Err(e);
            }
            Err(e) => {
                self.discard(&record.id);
                return Err(e);
            }
        };
        Ok(Finished {
            exit_code,
            container_id: record.id,
            upper: dirs.upper(),
        })
    }

    /// Removes a build container (best effort: it is scratch space).
    pub fn discard(&self, id: &str) {
        let _ = remove::remove_container(self.store, &self.mapping, id, true);
    }

    /// Packs an upper dir into a layer blob under `out_dir` (inside the user
    /// namespace). Empty stubs in `stubs` are dropped from the dir too.
    pub fn pack(
        &self,
        upper: &Path,
        out_dir: &Path,
        stubs: &[String],
    ) -> Result<LayerBlob, RuntimeError> {
        self.pack_as(&self.mapping, upper, out_dir, stubs)
    }

    /// [`Runtime::pack`] of an upper dir written under `mapping` (a keep-id container's),
    /// so the layer has the owners the container saw.
    pub fn pack_as(
        &self,
        mapping: &IdMapping,
        upper: &Path,
        out_dir: &Path,
        stubs: &[String],
    ) -> Result<LayerBlob, RuntimeError> {
        let mut role = vec![
            OsString::from("__pack"),
            upper.as_os_str().to_os_string(),
            out_dir.as_os_str().to_os_string(),
        ];
        for stub in stubs {
            role.push(OsString::from(format!("--stub={stub}")));
        }
        userns::run_helper(mapping, &role)?;
        let bytes = fs_err::read(out_dir.join("layer.json"))?;
        let report: PackReport =
            serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Setup(e.to_string()))?;
        Ok(report.blob)
    }

    /// Unpacks a layer blob into `dest` with its owners (user namespace).
    pub fn unpack(&self, blob: &Path, dest: &Path) -> Result<(), RuntimeError> {
        let role = [
            OsString::from("__unpack"),
            blob.as_os_str().to_os_string(),
            dest.as_os_str().to_os_string(),
        ];
        userns::run_helper(&self.mapping, &role)
    }

    /// Removes a tree that may hold files of mapped owners.
    pub fn remove_tree(&self, path: &Path) {
        let _ = remove::remove_tree(&self.mapping, path);
    }

    /// The id a file owned by host uid/gid has inside the user namespace.
    pub fn inside_ids(&self, host_uid: u32, host_gid: u32) -> (u32, u32) {
        match &self.mapping {
            IdMapping::Root => (host_uid, host_gid),
            IdMapping::Single { .. } => (0, 0),
            IdMapping::Subordinate {
                uid,
                gid,
                uids,
                gids,
                ..
            } => {
                let map = |host: u32, own: u32, (start, count): (u32, u32)| {
                    if host == own {
                        0
                    } else if host >= start && host - start < count {
                        host - start + 1
                    } else {
                        65534
                    }
                };
                (map(host_uid, *uid, *uids), map(host_gid, *gid, *gids))
            }
        }
    }
}

/// While a RUN step runs, the container's stdout (inherited) goes to our
/// stderr, so `devbox build` keeps stdout for the image id; with `-q` to
/// /dev/null.
struct Redirect {
    saved: OwnedFd,
}

impl Redirect {
    fn stdout(quiet: bool) -> std::io::Result<Redirect> {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let saved = std::io::stdout().as_fd().try_clone_to_owned()?;
        let target: OwnedFd = if quiet {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")?
                .into()
        } else {
            std::io::stderr().as_fd().try_clone_to_owned()?
        };
        crate::sys::process::dup_onto(&target, 1).map_err(std::io::Error::other)?;
        Ok(Redirect { saved })
    }
}

impl Drop for Redirect {
    fn drop(&mut self) {
        let _ = crate::sys::process::dup_onto(&self.saved, 1);
    }
}
