//! `relay-admin`: the relay operator's command line — enrollment imports and exports, providers,
//! policy, and verification of the access-record chain. All logic is in the library; this file
//! only parses arguments and prints results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use wsp_relay::config::StoreConfig;
use wsp_relay::enroll::{self, EnrollError, ImportOptions, ImportReport};
use wsp_relay::{
    authn_context, ChainError, Kek, LocalKeyScheme, NewProvider, NewRule, NewService,
    ProviderStatus, Store, StoreError,
};

#[derive(Parser)]
#[command(
    name = "relay-admin",
    version,
    about = "Operator tool of the Nabari relay database"
)]
struct Cli {
    /// The relay's TOML configuration (its [store] table is read).
    #[arg(long, env = "RELAY_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database URL: postgres://…, sqlite://PATH or a file path (overrides the configuration).
    #[arg(long, env = "RELAY_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// File with the key-encryption key, 64 hex characters (overrides the configuration).
    #[arg(long, env = "RELAY_KEK_FILE", global = true)]
    kek_file: Option<PathBuf>,
    /// Log more (-v info, -vv debug). Logs go to stderr and never carry identifiers in clear.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ImportArgs {
    /// Rows per batch (one transaction each). Kept from the first run of a file.
    #[arg(long, default_value_t = enroll::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Reject report (default: <input>.rejects.csv).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Test switch: sleep this long after each committed batch (lets the crash test kill the
    /// process mid-file).
    #[arg(long, env = "RELAY_IMPORT_PAUSE_MS", hide = true)]
    pause_between_batches_ms: Option<u64>,
}

impl ImportArgs {
    fn options(&self) -> ImportOptions {
        ImportOptions {
            batch_size: self.batch_size,
            rejects_path: self.rejects.clone(),
            progress: !self.no_progress,
            pause_between_batches: self.pause_between_batches_ms.map(Duration::from_millis),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create the database schema (every command does this as needed).
    Migrate,
    /// Write a new random key-encryption key to FILE (mode 0600).
    GenKek { file: PathBuf },
    /// Import a municipality's card-issuance file (persons and certificates).
    ImportCards {
        csv: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Import an insurer's link file (resident number ↔ local key) for a provider.
    ImportLinks {
        /// Provider entity ID.
        provider: String,
        csv: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Write a provider's link file (pseudonym ↔ local key) for its WSP.
    ExportLinks {
        /// Provider entity ID.
        provider: String,
        out: PathBuf,
        /// The insurer's link file (needed for providers not in pilot mode).
        #[arg(long)]
        links: Option<PathBuf>,
    },
    /// Import a renewal feed (old certificate → new certificate of the same person).
    Renew {
        csv: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Verify a CRL against the configured CA certificate(s) and mark its certificates revoked.
    ImportCrl {
        /// CRL, DER or PEM.
        file: PathBuf,
        /// CA certificate(s) (PEM) the CRL must be signed by; repeat for several CAs.
        #[arg(long = "ca", required = true)]
        cas: Vec<PathBuf>,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Verify the access-record hash chain; reports the first broken link (exit status 2).
    VerifyChain,
    /// Row counts of the main tables.
    Stats,
    /// Discovery policy rules.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Providers (WSPs).
    #[command(subcommand)]
    Provider(ProviderCommand),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Add a rule (allow unless --deny).
    Add {
        #[arg(long)]
        requester: String,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        service_type: String,
        #[arg(long)]
        data_class: String,
        /// Weakest AuthnContext class accepted (pinless-attested < signature ≈ user-authentication:pin).
        #[arg(long, default_value = authn_context::USER_AUTHENTICATION_PIN)]
        min_authn_context: String,
        #[arg(long)]
        deny: bool,
        #[arg(long)]
        note: Option<String>,
    },
    /// List the rules.
    List,
    /// Delete a rule by ID.
    Delete { id: String },
}

#[derive(Subcommand)]
enum ProviderCommand {
    /// Register a provider (pending until approved).
    Add {
        #[arg(long)]
        entity_id: String,
        #[arg(long)]
        name_ja: String,
        #[arg(long)]
        name_en: String,
        /// The relay keeps this provider's local keys (encrypted), as in the 2010 pilot.
        #[arg(long)]
        pilot_mode: bool,
        /// employee-health-insurance, national-health-insurance, public-expense, basic-pension, other.
        #[arg(long, default_value = "other")]
        local_key_scheme: String,
        /// The agency's SAML metadata (XML file).
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// A service: TYPE=ENDPOINT (repeatable), offered with bearer over TLS.
        #[arg(long = "service")]
        services: Vec<String>,
        /// Approve at once.
        #[arg(long)]
        approve: bool,
    },
    /// List providers.
    List,
    /// Approve a provider.
    Approve { entity_id: String },
    /// Suspend a provider.
    Suspend { entity_id: String },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Enroll(#[from] EnrollError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Chain(wsp_relay::BrokenLink),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Chain(broken)) => {
            eprintln!("relay-admin: {broken}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("relay-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open(cli: &Cli) -> Result<Store, CliError> {
    let mut config = match &cli.config {
        Some(path) => StoreConfig::from_toml_file(path)?,
        None => StoreConfig::default(),
    };
    if let Some(url) = &cli.database_url {
        config.database_url.clone_from(url);
    }
    if let Some(kek) = &cli.kek_file {
        config.kek_file = Some(kek.clone());
    }
    if let Some(path) = config.database_url.strip_prefix("sqlite://").map(Path::new) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    Ok(config.open()?)
}

fn print_import(report: &ImportReport) {
    println!(
        "{}: {} rows in {} batches of {}: {} applied, {} unchanged, {} rejected ({} batches committed now, {} already committed)",
        report.kind.as_str(),
        report.rows,
        report.batches,
        report.batch_size,
        report.applied,
        report.unchanged,
        report.rejected,
        report.batches_committed_now,
        report.batches_skipped
    );
    if let Some(path) = &report.rejects_path {
        println!("reject report: {}", path.display());
    }
}

fn provider_id(store: &Store, entity_id: &str) -> Result<wsp_relay::ProviderId, CliError> {
    store
        .provider_by_entity_id(entity_id)?
        .map(|p| p.id)
        .ok_or_else(|| CliError::Usage(format!("unknown provider {entity_id:?}")))
}

fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::GenKek { file } => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(file)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            writeln!(f, "{}", Kek::generate_hex()?)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            println!("wrote {}", file.display());
        }
        Command::Migrate => {
            let store = open(&cli)?;
            println!(
                "migrations applied: {}",
                store.applied_migrations()?.join(", ")
            );
        }
        Command::ImportCards { csv, import } => {
            let store = open(&cli)?;
            print_import(&enroll::import_cards(&store, csv, &import.options())?);
        }
        Command::ImportLinks {
            provider,
            csv,
            import,
        } => {
            let store = open(&cli)?;
            print_import(&enroll::import_links(
                &store,
                provider,
                csv,
                &import.options(),
            )?);
        }
        Command::ExportLinks {
            provider,
            out,
            links,
        } => {
            let store = open(&cli)?;
            let report = enroll::export_links(&store, provider, out, links.as_deref())?;
            println!(
                "{}: {} links written, {} skipped",
                out.display(),
                report.rows,
                report.skipped
            );
        }
        Command::Renew { csv, import } => {
            let store = open(&cli)?;
            print_import(&enroll::import_renewals(&store, csv, &import.options())?);
        }
        Command::ImportCrl { file, cas, import } => {
            let store = open(&cli)?;
            let anchors = enroll::load_trust_anchors(cas)?;
            print_import(&enroll::import_crl(
                &store,
                file,
                &anchors,
                &import.options(),
            )?);
        }
        Command::VerifyChain => {
            let store = open(&cli)?;
            match store.verify_chain() {
                Ok(report) => println!(
                    "chain intact: {} records, head seq {}",
                    report.records, report.head_seq
                ),
                Err(ChainError::Broken(b)) => return Err(CliError::Chain(b)),
                Err(ChainError::Store(e)) => return Err(e.into()),
            }
        }
        Command::Stats => {
            let c = open(&cli)?.counts()?;
            println!(
                "persons {}\ncertificates {}\nproviders {}\nlinks {}\naccess_records {}",
                c.persons, c.certificates, c.providers, c.links, c.access_records
            );
        }
        Command::Policy(cmd) => {
            let store = open(&cli)?;
            match cmd {
                PolicyCommand::Add {
                    requester,
                    purpose,
                    service_type,
                    data_class,
                    min_authn_context,
                    deny,
                    note,
                } => {
                    let rule = store.add_policy_rule(&NewRule {
                        requester: requester.clone(),
                        purpose: purpose.clone(),
                        service_type: service_type.clone(),
                        data_class: data_class.clone(),
                        min_authn_context: min_authn_context.clone(),
                        allow: !deny,
                        note: note.clone(),
                    })?;
                    println!("added rule {}", rule.id);
                }
                PolicyCommand::List => {
                    println!("id\trequester\tpurpose\tservice_type\tdata_class\tmin_authn_context\tdecision\tnote");
                    for r in store.policy_rules()? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            r.id,
                            r.requester,
                            r.purpose,
                            r.service_type,
                            r.data_class,
                            r.min_authn_context,
                            if r.allow { "allow" } else { "deny" },
                            r.note.unwrap_or_default()
                        );
                    }
                }
                PolicyCommand::Delete { id } => {
                    store.delete_policy_rule(id)?;
                    println!("deleted rule {id}");
                }
            }
        }
        Command::Provider(cmd) => {
            let store = open(&cli)?;
            match cmd {
                ProviderCommand::Add {
                    entity_id,
                    name_ja,
                    name_en,
                    pilot_mode,
                    local_key_scheme,
                    metadata,
                    services,
                    approve,
                } => {
                    let scheme = LocalKeyScheme::parse(local_key_scheme).ok_or_else(|| {
                        CliError::Usage(format!("unknown local key scheme {local_key_scheme:?}"))
                    })?;
                    let metadata_xml = match metadata {
                        Some(path) => Some(
                            std::fs::read_to_string(path)
                                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?,
                        ),
                        None => None,
                    };
                    let mut parsed = Vec::new();
                    for s in services {
                        let (t, e) = s.split_once('=').ok_or_else(|| {
                            CliError::Usage(format!("--service {s:?}: expected TYPE=ENDPOINT"))
                        })?;
                        parsed.push(NewService {
                            service_type: t.into(),
                            endpoint: e.into(),
                            security_mechs: vec![schemas::idwsf::secmech::TLS_BEARER.into()],
                            abstract_text: None,
                            svc_md_xml: None,
                        });
                    }
                    let p = store.register_provider(&NewProvider {
                        entity_id: entity_id.clone(),
                        name_ja: name_ja.clone(),
                        name_en: name_en.clone(),
                        pilot_mode: *pilot_mode,
                        local_key_scheme: scheme,
                        metadata_xml,
                    })?;
                    for s in &parsed {
                        store.add_provider_service(&p.id, s)?;
                    }
                    let p = if *approve {
                        store.set_provider_status(&p.id, ProviderStatus::Approved)?
                    } else {
                        p
                    };
                    println!("registered {} ({}), {}", p.entity_id, p.id, p.status);
                }
                ProviderCommand::List => {
                    println!("entity_id\tstatus\tpilot_mode\tlocal_key_scheme\tname_ja\tname_en");
                    for p in store.providers(None)? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            p.entity_id,
                            p.status,
                            p.pilot_mode,
                            p.local_key_scheme,
                            p.name_ja,
                            p.name_en
                        );
                    }
                }
                ProviderCommand::Approve { entity_id } => {
                    let id = provider_id(&store, entity_id)?;
                    let p = store.set_provider_status(&id, ProviderStatus::Approved)?;
                    println!("{}: {}", p.entity_id, p.status);
                }
                ProviderCommand::Suspend { entity_id } => {
                    let id = provider_id(&store, entity_id)?;
                    let p = store.set_provider_status(&id, ProviderStatus::Suspended)?;
                    println!("{}: {}", p.entity_id, p.status);
                }
            }
        }
    }
    Ok(())
}
