//! Claiming a job's folder under `output.dir`. The claim is a `create_dir`
//! of a name no one has: two jobs whose names render alike (a `folder`
//! template without `{id}`) never share one, even when they finish at the
//! same instant.

use std::path::{Path, PathBuf};

use crate::model::{identity, Job};
use crate::output::download::{write_atomic, DownloadError};
use crate::output::naming::{Template, Vars};
use crate::output::space;

/// Why writing a job's folder stopped short.
#[derive(Debug)]
pub enum FolderError {
    /// The output volume is full, read-only or refuses us: wait, then retry.
    Output(String),
    /// Anything else: the job fails with this reason.
    Failed(String),
}

impl FolderError {
    /// Clip `idx` (0-based) could not be written.
    pub fn clip(idx: u64, err: DownloadError) -> FolderError {
        let reason = format!("clip {}: {err}", idx + 1);
        if err.output_can_clear() {
            FolderError::Output(reason)
        } else {
            FolderError::Failed(reason)
        }
    }

    fn create(path: &Path, err: std::io::Error) -> FolderError {
        let reason = format!("cannot create {}: {err}", path.display());
        if space::can_clear(&err) {
            FolderError::Output(reason)
        } else {
            FolderError::Failed(reason)
        }
    }
}

impl From<DownloadError> for FolderError {
    fn from(err: DownloadError) -> FolderError {
        if err.output_can_clear() {
            FolderError::Output(err.to_string())
        } else {
            FolderError::Failed(err.to_string())
        }
    }
}

/// Where a job's clips go.
#[derive(Debug, PartialEq, Eq)]
pub struct Placed {
    /// The folder, absolute (under `root`).
    pub path: PathBuf,
    /// A folder newly claimed, relative to `root`: the job must store it
    /// before anything is written there.
    pub claimed: Option<String>,
}

/// The job's folder under `root`: the one it stored, if it is still there
/// and still its own, else a new one claimed from `template` (also when
/// the stored one was removed: it is claimed again like a new one, so a
/// job after the same name at this instant cannot share it).
pub async fn ensure_folder(
    root: &Path,
    template: &Template,
    job: &Job,
) -> Result<Placed, FolderError> {
    if let Some(folder) = &job.folder {
        let path = root.join(folder);
        let kept = Placed {
            path: path.clone(),
            claimed: None,
        };
        match folder_owner(&path).await {
            Some(key) if key != job.key => {
                // Its folder was removed, and another job has since claimed
                // that name and finished there: its files are not this job's.
                tracing::warn!(
                    job = job.id,
                    key = %job.key,
                    "{} now holds the clips of {key}; choosing a new folder",
                    path.display()
                );
            }
            _ if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) => return Ok(kept),
            _ => match claim_exactly(root, Path::new(folder)).await? {
                true => return Ok(kept),
                false => tracing::warn!(
                    job = job.id,
                    key = %job.key,
                    "{} was taken by another job; choosing a new folder",
                    path.display()
                ),
            },
        }
    }
    let published = job.source.published.unwrap_or(job.created_at);
    let vars = Vars {
        feed: job.source.feed.clone().unwrap_or_else(|| "inbox".into()),
        date: published.format("%Y-%m-%d").to_string(),
        title: job.display_title(),
        id: identity::short_id(&job.key),
        preset: job.preset.clone(),
        ..Vars::default()
    };
    let relative = claim_folder(root, &template.render(&vars)).await?;
    Ok(Placed {
        path: root.join(&relative),
        claimed: Some(relative.to_string_lossy().into_owned()),
    })
}

/// Create `root/relative` (and its parents); `false` if it already exists.
async fn claim_exactly(root: &Path, relative: &Path) -> Result<bool, FolderError> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| FolderError::create(parent, e))?;
    }
    match tokio::fs::create_dir(&path).await {
        Ok(()) => {
            // Durable before the job records it: a power cut must not lose
            // the folder of a job the database says is done.
            crate::output::download::sync_parent(&path).await?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(FolderError::create(&path, e)),
    }
}

/// Create a folder under `root` named `wanted`, or `wanted (2)`, `(3)`… if
/// the name exists, and return its path relative to `root`. Creating it is
/// the claim: of two jobs after one name, exactly one gets it.
async fn claim_folder(root: &Path, wanted: &Path) -> Result<PathBuf, FolderError> {
    let mut candidate = wanted.to_path_buf();
    let mut n = 2;
    while !claim_exactly(root, &candidate).await? {
        let mut name = wanted.file_name().unwrap_or_default().to_os_string();
        name.push(format!(" ({n})"));
        candidate = wanted.with_file_name(name);
        n += 1;
    }
    Ok(candidate)
}

/// The source key of the job whose finished clips are in `folder`, from its
/// `project.json`; `None` when there is none (not finished, or no folder).
async fn folder_owner(folder: &Path) -> Option<String> {
    let bytes = tokio::fs::read(folder.join("project.json")).await.ok()?;
    let project: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    project["source"]["key"].as_str().map(str::to_string)
}

/// `value` as pretty JSON at `path`, atomically (`.part` + rename).
pub async fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), FolderError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| FolderError::Failed(e.to_string()))?;
    bytes.push(b'\n');
    Ok(write_atomic(path, &bytes).await?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[tokio::test]
    async fn folders_are_claimed_once() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("inbox/x")).unwrap();
        assert_eq!(
            claim_folder(root.path(), Path::new("inbox/x"))
                .await
                .unwrap(),
            Path::new("inbox/x (2)")
        );
        assert_eq!(
            claim_folder(root.path(), Path::new("inbox/y"))
                .await
                .unwrap(),
            Path::new("inbox/y")
        );
        // Many claims of one name at once: each gets its own folder.
        let claims: Vec<_> = (0..8)
            .map(|_| {
                let root = root.path().to_path_buf();
                tokio::spawn(async move { claim_folder(&root, Path::new("inbox/z")).await })
            })
            .collect();
        let mut got = HashSet::new();
        for claim in claims {
            assert!(got.insert(claim.await.unwrap().unwrap()));
        }
        assert_eq!(got.len(), 8);
    }

    #[tokio::test]
    async fn a_job_keeps_its_folder_until_another_job_finishes_there() {
        use crate::model::Source;
        use crate::output::naming::TemplateKind;
        let root = tempfile::tempdir().unwrap();
        let template = Template::parse("{feed}/{title}", TemplateKind::Folder).unwrap();
        let source = Source {
            title: Some("Talk".into()),
            ..Source::default()
        };
        let mut job = Job::new(
            1,
            "url:https://e.com/1".into(),
            source,
            "default".into(),
            chrono::Utc::now(),
        );
        // New: claimed from the template, to be stored by the caller.
        let first = ensure_folder(root.path(), &template, &job).await.unwrap();
        assert_eq!(first.claimed.as_deref(), Some("inbox/Talk"));
        job.folder = first.claimed.clone();
        // Stored and still there: kept as is.
        let again = ensure_folder(root.path(), &template, &job).await.unwrap();
        assert_eq!(
            (again.path.as_path(), again.claimed),
            (first.path.as_path(), None)
        );
        // Removed by someone: claimed again under the same name.
        std::fs::remove_dir(&first.path).unwrap();
        let back = ensure_folder(root.path(), &template, &job).await.unwrap();
        assert_eq!(back.claimed, None);
        assert!(first.path.is_dir());
        // Another job finished there meanwhile: a new folder.
        std::fs::write(
            first.path.join("project.json"),
            r#"{"source": {"key": "url:https://e.com/2"}}"#,
        )
        .unwrap();
        let moved = ensure_folder(root.path(), &template, &job).await.unwrap();
        assert_eq!(moved.claimed.as_deref(), Some("inbox/Talk (2)"));
    }
}
