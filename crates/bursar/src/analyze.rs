//! `bursar analyze …`: psychometrics of exported forms, from files, without
//! a server or a database (for reproducible analyses).

use anyhow::{Context, Result};
use bursar_core::learning::analyze::{analyze_files, AnalyzeFiles};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// The `bursar-psychometrics/1` JSON report of a response CSV (persons ×
    /// items, 0/1, empty for missing): classical item analysis, reliability,
    /// score distribution, and IRT calibrations with person scores.
    Responses {
        /// The responses: a header row of item names, then one row per person.
        file: PathBuf,
        /// Response times in ms, the same shape as the responses.
        #[arg(long)]
        rt: Option<PathBuf>,
        /// One cohort label per person (a header row, then one row each).
        #[arg(long)]
        cohorts: Option<PathBuf>,
        /// IRT models, comma separated: 2pl, rasch, 1pl_a1_var1 (default: all three).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Whose scores the report lists: the first 20 persons or all.
        #[arg(long, value_enum, default_value_t = Persons::First)]
        persons: Persons,
        /// Write the report here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Persons {
    First,
    All,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub fn run(cmd: AnalyzeCommand) -> Result<()> {
    match cmd {
        AnalyzeCommand::Responses { file, rt, cohorts, models, persons, out } => {
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let files = AnalyzeFiles {
                name,
                responses_csv: read(&file)?,
                times_csv: rt.as_deref().map(read).transpose()?,
                cohorts_csv: cohorts.as_deref().map(read).transpose()?,
                models,
                all_persons: matches!(persons, Persons::All),
            };
            let report = analyze_files(&files).map_err(|e| anyhow::anyhow!("{e}"))?;
            match out {
                Some(path) => {
                    std::fs::write(&path, report + "\n").with_context(|| format!("writing {}", path.display()))?
                }
                None => println!("{report}"),
            }
            Ok(())
        }
    }
}
