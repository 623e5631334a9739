//! `certs generate [--out DIR] [--residents N] [--force]`: writes (or reuses) the test PKI.
//! `certs show [--out DIR]`: prints a summary of an existing one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "certs",
    about = "Test PKI of the Nabari federation (JPKI-shaped CAs, virtual cards, federation keys)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the PKI, or do nothing if a complete one is already there.
    Generate {
        /// Output folder (default: certs/out of this crate).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Number of residents (default 12 when generating; 7 or more covers every case).
        #[arg(long)]
        residents: Option<usize>,
        /// Regenerate even if a complete PKI exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a summary of an existing PKI.
    Show {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn summary(pki: &certs::Pki) {
    let m = &pki.manifest;
    println!(
        "PKI in {} (generated {})",
        pki.dir.display(),
        m.generated_at
    );
    println!("SOFTHSM2_CONF={}", m.softhsm.conf.display());
    println!("module: {}", m.softhsm.module.display());
    for ca in &m.cas {
        println!(
            "CA {:<11} key id {}  CRL #{} ({} entries)",
            ca.name,
            ca.key_id,
            ca.crl.number,
            ca.crl.entries.len()
        );
    }
    for c in &m.cards {
        println!(
            "card {} {:<20} {:<14} auth {}@{} sign {}@{}  tokens {:?}/{:?}",
            c.card_number,
            c.case.as_str(),
            c.resident.display_name,
            c.auth_cert.serial,
            c.auth_cert.ca,
            c.sign_cert.serial,
            c.sign_cert.ca,
            c.auth_token.label,
            c.sign_token.label
        );
    }
    println!(
        "{} federation entities, TLS names: {}",
        m.federation.len(),
        m.tls.server_names.join(" ")
    );
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate {
            out,
            residents,
            force,
        } => {
            let dir = out.unwrap_or_else(certs::default_out_dir);
            let started = Instant::now();
            certs::generate(&dir, &certs::Options { residents, force }).map(|pki| {
                if pki.reused {
                    println!(
                        "PKI in {} is complete; nothing to do (use --force to regenerate)",
                        pki.dir.display()
                    );
                } else {
                    println!("generated in {:.1} s", started.elapsed().as_secs_f64());
                    summary(&pki);
                }
            })
        }
        Command::Show { out } => {
            let dir = out.unwrap_or_else(certs::default_out_dir);
            certs::Pki::load(&dir).map(|pki| {
                summary(&pki);
                if let Err(why) = pki.check() {
                    println!("NOT reusable as is: {why}");
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certs: {e}");
            ExitCode::FAILURE
        }
    }
}
