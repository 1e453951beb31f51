//! `bursar learning …`: content imports from files, through the same
//! service operation as `POST /v1/learning/content`.

use anyhow::{anyhow, bail, Context, Result};
use bursar_core::idempotency::Reply;
use bursar_core::learning::content::{self, ContentImport};
use bursar_core::{Actor, Ctx};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum LearningCommand {
    /// Create or update forms and items from a file: a JSON document like the
    /// body of `POST /v1/learning/content` (`items`, `items_csv`,
    /// `assessments`), or items as CSV (`id,topic,difficulty[,skill][,content_hash]`
    /// with a header row). Nothing is written when any part is invalid.
    Import {
        /// The `.json` or `.csv` file.
        #[arg(long)]
        file: PathBuf,
        /// Into live mode (default: test mode).
        #[arg(long)]
        live: bool,
    },
}

/// The import document a file holds; a JSON error names its line and column.
pub fn read(file: &Path) -> Result<ContentImport> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let ext = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => {
            serde_json::from_str(&text).map_err(|e| anyhow!("{}:{}:{}: {e}", file.display(), e.line(), e.column()))
        }
        Some("csv") => Ok(ContentImport { items_csv: Some(text), ..ContentImport::default() }),
        _ => bail!("{}: the file must end in .json or .csv", file.display()),
    }
}

pub async fn run(ctx: &Ctx, command: LearningCommand) -> Result<()> {
    match command {
        LearningCommand::Import { file, live } => {
            let doc = read(&file)?;
            let out = content::import(ctx, &Actor::system(live), doc, &Reply::none()).await.map_err(|e| {
                let field = e.param.as_deref().map(|p| format!("{p}: ")).unwrap_or_default();
                anyhow!("{}: {field}{}", file.display(), e.message)
            })?;
            println!("{}", serde_json::to_string(&out)?);
        }
    }
    Ok(())
}
