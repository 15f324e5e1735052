//! `devbox commit`: a container's upper dir becomes a new layer on top of
//! its image, with `--change` instructions applied to the config.

use super::builder::{BuildError, Built};
use super::commit;
use super::executor::{Runtime, MOUNT_STUBS};
use crate::image::oci::History;
use crate::image::Reference;

pub struct CommitRequest {
    pub container: String,
    pub reference: Option<Reference>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
}

fn fail(message: String, hint: Option<&str>) -> BuildError {
    BuildError::Step {
        file: "commit".into(),
        message,
        hint: hint.map(str::to_string),
    }
}

pub fn commit_container(runtime: &Runtime, request: &CommitRequest) -> Result<Built, BuildError> {
    let store = runtime.store;
    let id = store.resolve_container(&request.container)?;
    let (record, _state) = store.load_container(&id)?;
    let image = store
        .resolve_image(&record.image_id.to_string())
        .map_err(|e| {
            fail(
                format!(
                    "the image of container {} ({}): {e}",
                    record.name, record.image
                ),
                Some("the container's image must still be in the store"),
            )
        })?;
    let mut config = image.config.clone();
    for change in &request.changes {
        crate::image::change::apply(&mut config.config, change)
            .map_err(|reason| fail(format!("invalid --change `{change}`: {reason}"), None))?;
    }
    // Volumes (bind mounts) and the runtime's own files are not content.
    let mut stubs: Vec<String> = MOUNT_STUBS.iter().map(|s| s.to_string()).collect();
    stubs.extend(
        record
            .spec
            .binds
            .iter()
            .map(|b| b.target.trim_matches('/').to_string()),
    );
    let dirs = store.container_dirs(&id);
    let scratch = commit::scratch_dir(store)?;
    // A keep-id container's files are read with its own mapping.
    let mapping = match record.spec.keep_id {
        Some(_) => runtime
            .mapping
            .keep_id()
            .map_err(crate::runtime::RuntimeError::from)?,
        None => runtime.mapping.clone(),
    };
    let layer = (|| -> Result<_, BuildError> {
        let blob = runtime.pack_as(&mapping, &dirs.upper(), &scratch, &stubs)?;
        if blob.entries == 0 {
            return Ok(None);
        }
        let descriptor = commit::publish_blob(store, &blob)?;
        commit::publish_unpacked(store, runtime, &blob.digest, &blob.diff_id)
            .map_err(|e| fail(format!("cannot unpack the layer: {e}"), None))?;
        Ok(Some((descriptor, blob.diff_id)))
    })();
    runtime.remove_tree(&scratch);
    let layer = layer?;
    let now = crate::runtime::state::now();
    let mut layers = image.manifest.layers.clone();
    config.history.push(History {
        created: Some(now.clone()),
        created_by: Some(format!("devbox commit {}", record.name)),
        comment: request.message.clone(),
        empty_layer: layer.is_none(),
    });
    if let Some((descriptor, diff_id)) = layer {
        layers.push(descriptor);
        config.rootfs.diff_ids.push(diff_id);
    }
    config.created = Some(now);
    if request.author.is_some() {
        config.author = request.author.clone();
    }
    let (id, manifest) = commit::write_image(store, &config, &layers)?;
    if let Some(reference) = &request.reference {
        commit::tag(store, std::slice::from_ref(reference), &manifest)?;
    }
    Ok(Built { id, manifest })
}
