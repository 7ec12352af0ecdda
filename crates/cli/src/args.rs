//! What was typed: clap definitions only. `resolve.rs` turns these into
//! events, keys and opened ledgers.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `after_help` of an event kind: the `record` example, and how to do the
/// same offline with `sign`.
macro_rules! kind_example {
    ($kind:literal, $args:literal) => {
        concat!(
            "Example:\n  tinledger record ",
            $kind,
            " ",
            $args,
            "\nOffline: sign on the operator's machine, submit on the ledger host:\n  tinledger sign ",
            $kind,
            " ... --as ACTOR --ledger-id HEX --out FILE\n  tinledger submit FILE"
        )
    };
}

#[derive(Parser, Debug)]
#[command(
    name = "tinledger",
    version,
    about = "Signed, hash-chained custody ledger for tin from Bangka Belitung",
    long_about = "tinledger records Ed25519-signed custody events for tin, from the mine through collectors \
and the smelter to manufacturers and exporters, in an append-only hash-chained ledger, and verifies it.\n\n\
Exit codes: 0 success; 1 a check said no (event refused, verification failed); 2 usage or I/O error.",
    after_help = "Examples (start here):\n  tinledger demo --dir demo\n  tinledger --ledger demo/ledger verify"
)]
pub struct Cli {
    /// Ledger directory.
    #[arg(long, global = true, env = "TINLEDGER_LEDGER", default_value = "./tinledger-data", value_name = "DIR")]
    pub ledger: PathBuf,
    /// Print machine-readable JSON (documented in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,
    /// Name of an environment variable holding the passphrase of encrypted private keys (docs/keys.md);
    /// also accepted after the commands that read a key.
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Print only errors: no progress, notes or confirmations (data asked for on stdout is still printed).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail on stderr: the ledger opened, its head, lock waits.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Color the FAULT/intact/flag markers and progress bars: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Seconds to wait for the ledger lock held by another tinledger process (0: fail at once).
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    pub wait: u64,
    /// Base URL of a served log (`tinledger serve`, or `publish` output behind a web server): read commands
    /// (show, log, lot, prove, verify, cert issue) read it instead of --ledger; record (signs here, needs
    /// --as), submit and sign-batch submit to it (`tinledger serve`) (docs/server.md).
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    #[command(subcommand)]
    pub cmd: Command,
}

/// `--color WHEN`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    // Color when stdout is a terminal and NO_COLOR is unset or empty.
    Auto,
    // Always color, even when piped or with NO_COLOR.
    Always,
    // Never color.
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an Ed25519 key: PKCS#8 PEM, mode 0600, never overwrites.
    #[command(
        after_help = "Examples:\n  tinledger keygen --out smelter.pem\n  tinledger keygen --out smelter.pem --encrypt                  # asks for a passphrase twice\n  tinledger --passphrase-env SMELTER_PASS keygen --out smelter.pem --encrypt"
    )]
    Keygen {
        /// Where to write the private key (the public key goes to FILE.pub.pem); `-`: standard output, never a terminal.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Encrypt the key under a passphrase (PKCS#8 PBES2, AES-256-CBC); docs/keys.md.
        #[arg(long)]
        encrypt: bool,
        #[command(flatten)]
        pass: PassphraseEnv,
    },
    /// Inspect key files.
    #[command(subcommand, after_help = "Example:\n  tinledger --ledger demo/ledger key show demo/keys/MINE-KOBA.pem")]
    Key(KeyCmd),
    /// Create a new ledger, signed by its authority.
    #[command(
        after_help = "Example:\n  tinledger --ledger ./ledger init --authority-key authority.pem \\\n    --authority-id AUTH-BABEL --authority-name 'Dinas ESDM Babel' --name 'Bangka Belitung tin'"
    )]
    Init(InitArgs),
    /// Register, suspend, reinstate, revoke actors or rotate their keys (authority only).
    #[command(
        subcommand,
        after_help = "Examples:\n  tinledger actor list\n  tinledger actor show SMELTER-MUNTOK --json\n  tinledger actor suspend --key authority.pem --id MINE-JEBUS --reason 'licence under review'"
    )]
    Actor(ActorCmd),
    /// Build, sign, check and append one event.
    #[command(
        after_help = "Example:\n  tinledger record extract --key mine.pem --lot ORE-001 --material ore \\\n    --mass 1250kg --grade 68% --licence 'IUP-OP 540/12/2021' --location=-2.49,106.41"
    )]
    Record {
        #[command(subcommand)]
        kind: Kind,
    },
    /// Sign an event without the ledger (needs the ledger id); append it later with `submit`.
    #[command(
        after_help = "Example:\n  tinledger sign smelt --key smelter.pem --as SMELTER-MUNTOK --ledger-id 0f1e... \\\n    --input CONC-07:800kg --output INGOT-2026-0042:ingot:540kg:99.9% --out smelt.json"
    )]
    Sign {
        #[command(subcommand)]
        kind: Kind,
    },
    /// Append pre-signed events (files from `sign`), all or nothing.
    #[command(after_help = "Example:\n  tinledger submit smelt.json dispatch.json")]
    Submit {
        /// Signed event files (one JSON object, or JSON Lines); `-` reads standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Sign a whole CSV or JSON Lines file of events without the ledger, in parallel (docs/import.md).
    #[command(
        after_help = "Examples:\n  tinledger sign-batch smelt.csv --key smelter.pem --as SMELTER-MUNTOK --ledger-id 0f1e... --out smelt.signed.jsonl\n  tinledger sign-batch day.jsonl --key smelter.pem --as SMELTER-MUNTOK --ledger-id 0f1e... --out day.signed.jsonl"
    )]
    SignBatch(SignBatchArgs),
    /// Append every event of a CSV or JSON Lines file, all or nothing, reporting every bad row (docs/import.md).
    #[command(
        after_help = "Examples:\n  tinledger import smelt.signed.jsonl                 # from sign-batch\n  tinledger import receive.csv --key smelter.pem     # sign on this host, then append"
    )]
    Import(ImportArgs),
    /// Show one entry.
    #[command(after_help = "Example:\n  tinledger show 12 --json")]
    Show {
        /// Sequence number.
        seq: u64,
    },
    /// List entries; the filters given must all match (docs/cli.md, "log").
    #[command(
        after_help = "Examples:\n  tinledger log --from 10 --to 20\n  tinledger log --actor SMELTER-MUNTOK --kind receive --from 2026-03-01T00:00:00Z --to 2026-03-31T23:59:59Z\n  tinledger log --lot KOB-2026-0001 --json"
    )]
    Log(LogArgs),
    /// A lot's current state and history, its provenance tree, or a list of lots.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "Examples:\n  tinledger lot INGOT-2026-0042\n  tinledger lot SOLDER-KEK-2026-007 --tree\n  tinledger lot SOLDER-KEK-2026-007 --tree --dot | dot -Tsvg > solder-007.svg\n  tinledger lot list --held-by SMELTER-MUNTOK --state held"
    )]
    Lot(LotArgs),
    /// Reports for auditors: an actor's mass balance over a period.
    #[command(
        subcommand,
        after_help = "Example:\n  tinledger report balance --actor SMELTER-MUNTOK --from 2026-03-01T00:00:00Z --to 2026-03-31T23:59:59Z"
    )]
    Report(ReportCmd),
    /// Replay the chain and check every entry (streaming, signatures in parallel batches).
    #[command(after_help = "Examples:
  tinledger verify
  tinledger verify --expect-head 41:9c1f...        (a head saved from an earlier audit)
  tinledger verify --snapshot cp-2026-11.txt --auditor-key me.pem
      (also save the rule state at that checkpoint, signed with the auditor's key)
  tinledger verify --since cp-2026-11.txt --auditor-key me.pem
      (next month: only the entries after it)")]
    Verify(VerifyArgs),
    /// Write a portable copy of the ledger (entries + latest signed checkpoint) to one file.
    #[command(after_help = "Example:\n  tinledger export --out babel-2026-03.tlx")]
    Export {
        /// Where to write it (`-` for standard output; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Rebuild a ledger from an export, re-checking every entry and the signed checkpoint.
    #[command(
        after_help = "Example:\n  tinledger import-ledger babel-2026-03.tlx --into ./copy --authority-key authority.pub.pem"
    )]
    ImportLedger {
        /// The export file (`-` for standard input).
        file: PathBuf,
        /// New ledger directory (must not exist).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// A checkpoint obtained independently (default: the one in the export; `-` for standard input).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        trust: Trust,
    },
    /// Write the read API (checkpoint, tiles, entry bundles, lots, actors) as static files for any web server.
    #[command(
        after_help = "Incremental: a later run writes only what is new; the checkpoint is replaced last (docs/server.md).\n\nExample:\n  tinledger --ledger ./ledger publish --out /srv/tinledger"
    )]
    Publish {
        /// Directory to write (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Copy a served log into a local ledger, checking every entry, signature and proof; later runs fetch only what is new.
    #[command(
        after_help = "Example:\n  tinledger mirror https://ledger.example/ --into ./mirror --authority-key authority.pub.pem\n  tinledger mirror https://ledger.example/ --into ./mirror          # later runs"
    )]
    Mirror {
        /// Base URL of the served log.
        url: String,
        /// The mirror's ledger directory (created on the first run).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// The authority's public key (64 hex digits or a PEM file): required on the first run; may be repeated.
        #[arg(long, value_name = "KEY")]
        authority_key: Vec<String>,
        #[command(flatten)]
        policy: PolicyArg,
    },
    /// Rebuild every index and the Merkle tree from the entries (never touches entries).
    #[command(after_help = "Example:\n  tinledger reindex && tinledger verify")]
    Reindex,
    /// Convert a ledger in an older storage format (1) to the current one, keeping the old data as DIR/db.format1.
    #[command(
        after_help = "Crash-safe: a kill at any point leaves the old or the new ledger, complete (docs/storage.md, \"Migration\").\n\nExample:\n  tinledger --ledger ./ledger migrate && tinledger --ledger ./ledger verify"
    )]
    Migrate,
    /// Sign a checkpoint (signed tree head) for the current head, or print the latest one.
    #[command(
        after_help = "Examples:\n  tinledger checkpoint --key authority.pem        # sign and store a checkpoint for the head\n  tinledger checkpoint --out cp.txt                # save the latest signed checkpoint\n  tinledger checkpoint --verifier-key              # the note verifier key buyers trust"
    )]
    Checkpoint {
        /// The authority's (or the bound log key's) private key: sign a new checkpoint for the current head.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Also write the checkpoint to FILE (`-`: only to standard output, once).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the signed-note verifier key (name+hash+base64) instead.
        #[arg(long)]
        verifier_key: bool,
        /// Print the verifier key of the bound log key instead (what
        /// tlog clients and witnesses check the server's checkpoints with).
        #[arg(long, conflicts_with = "verifier_key")]
        log_verifier_key: bool,
        #[command(flatten)]
        pass: PassphraseEnv,
    },
    /// Print Merkle proofs (inclusion of an entry, consistency of two checkpoints).
    #[command(
        subcommand,
        after_help = "Examples:\n  tinledger prove inclusion 35 --out p35.json\n  tinledger prove consistency --old cp-2026-02.txt --out cons.json"
    )]
    Prove(ProveCmd),
    /// Check a proof offline, trusting only the authority's key (no ledger needed).
    #[command(
        subcommand,
        after_help = "Examples:\n  tinledger check checkpoint cp.txt --authority-key authority.pub.pem\n  tinledger check inclusion p35.json --authority-key authority.pub.pem"
    )]
    Check(CheckCmd),
    /// Provenance certificates: issue, verify offline, render for people.
    #[command(
        subcommand,
        after_help = "Examples:\n  tinledger cert issue --lot SOLDER-KEK-2026-007 --key exporter.pem --out solder-007.cert.json\n  tinledger cert verify solder-007.cert.json --authority-key authority.pub.pem"
    )]
    Cert(CertCmd),
    /// Build the Bangka Belitung fixture scenario in DIR/ledger, with test keys in DIR/keys, and verify it.
    #[command(after_help = "Example:\n  tinledger demo --dir demo && tinledger --ledger demo/ledger verify")]
    Demo {
        /// Directory for the demo: DIR/ledger, DIR/keys, DIR/certificate.json.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Serve the ledger over HTTP: the C2SP tlog-tiles read API and group-committed submissions (docs/server.md).
    #[command(
        after_help = "Examples:\n  tinledger keygen --out log.pem                       # the log key that signs checkpoints\n  tinledger --ledger ./ledger serve --log-key log.pem --listen 127.0.0.1:8080\n  tinledger --ledger ./mirror serve --read-only --listen 127.0.0.1:8081"
    )]
    Serve(ServeArgs),
    /// Run a C2SP tlog-witness: cosign checkpoints of trusted logs that are consistent with what it cosigned before (docs/witness.md).
    #[command(
        subcommand,
        after_help = "Examples:\n  tinledger keygen --out witness.pem\n  tinledger witness key --key witness.pem --name witness.example/w1   # for tlog-policy files\n  tinledger witness serve --key witness.pem --name witness.example/w1 --state ./witness-state \\\n      --log \"$(tinledger --ledger ./ledger checkpoint --log-verifier-key)\""
    )]
    Witness(WitnessCmd),
    /// Watch logs, mirrors and witnesses for a split view: keep every checkpoint seen, check they are consistent.
    #[command(
        after_help = "Exit codes: 0 no split view seen, 3 split view (evidence written), 1 or 2 as elsewhere (docs/witness.md, \"Monitoring\").\n\nExamples:\n  tinledger monitor --policy babel.policy --state ./monitor https://ledger.example/ https://mirror.example/\n  tinledger monitor --policy babel.policy --state ./monitor --once https://ledger.example/"
    )]
    Monitor(MonitorArgs),
    /// Measure this machine: appends, verify and certificates on a synthetic ledger, next to raw limits.
    #[command(
        after_help = "Examples:\n  tinledger bench                                     # default size, temp dir\n  tinledger bench --events 1000000 --dir bench-1m --json   # keeps bench-1m/ledger; a rerun reuses it"
    )]
    Bench {
        /// Events in the synthetic ledger (the default run takes 30 s to a few minutes on 2 cores).
        #[arg(long, value_name = "N", default_value_t = tinledger_synth::DEFAULT_EVENTS)]
        events: u64,
        /// Work in DIR and keep the ledger there (a later run with the same --events reuses it).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep the temp dir with the ledger (its path is printed on stderr).
        #[arg(long)]
        keep: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(
        after_help = "Examples:\n  tinledger completions bash > /etc/bash_completion.d/tinledger\n  tinledger completions zsh > \"${fpath[1]}/_tinledger\"\n  tinledger completions fish > ~/.config/fish/completions/tinledger.fish"
    )]
    Completions {
        /// Target shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page tinledger.1, or write one page per command to DIR.
    #[command(
        after_help = "Examples:\n  tinledger man | man -l -\n  tinledger man --out /usr/local/share/man/man1   # tinledger.1, tinledger-verify.1, ..."
    )]
    Man {
        /// Write tinledger.1 and one page per subcommand (tinledger-verify.1, ...) into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Print a key's id, public key (hex, base64, PEM) and the actor the ledger has it registered to.
    #[command(
        after_help = "Examples:\n  tinledger --ledger demo/ledger key show demo/keys/MINE-KOBA.pem\n  tinledger key show smelter.pub.pem --json"
    )]
    Show {
        /// A PEM file (public key, private key, or encrypted private key) or 64 hex digits.
        #[arg(value_name = "KEY")]
        key: String,
        #[command(flatten)]
        pass: PassphraseEnv,
    },
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The authority's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub authority_key: PathBuf,
    /// The authority's actor id.
    #[arg(long, default_value = "AUTHORITY")]
    pub authority_id: String,
    /// The authority's display name.
    #[arg(long, default_value = "Ledger authority")]
    pub authority_name: String,
    /// The ledger's name.
    #[arg(long, default_value = "tinledger")]
    pub name: String,
    /// Ledger id (32 hex digits); random by default.
    #[arg(long, value_name = "HEX")]
    pub ledger_id: Option<String>,
    /// Genesis time (RFC 3339); now by default.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[command(flatten)]
    pub pass: PassphraseEnv,
}

/// `--passphrase-env VAR` on the commands that read or write a private key.
#[derive(Args, Debug, Clone)]
pub struct PassphraseEnv {
    /// Name of an environment variable holding the passphrase of encrypted private keys (docs/keys.md).
    #[arg(long = "passphrase-env", id = "passphrase_env", value_name = "VAR")]
    pub var: Option<String>,
}

/// Who signs, when, and (for `sign`) where the result goes.
#[derive(Args, Debug, Clone)]
pub struct Signing {
    /// The signer's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Signer's actor id; `record` looks it up from the key when omitted.
    #[arg(long = "as", value_name = "ACTOR")]
    pub signer: Option<String>,
    /// Event time (RFC 3339, e.g. 2026-03-02T07:30:00Z); now by default.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Free-text note (up to 1024 bytes).
    #[arg(long)]
    pub note: Option<String>,
    /// `sign` only: the ledger id the event is for.
    #[arg(long, value_name = "HEX")]
    pub ledger_id: Option<String>,
    /// `sign` only: where to write the signed event (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassphraseEnv,
}

#[derive(Subcommand, Debug)]
pub enum ActorCmd {
    /// Register an actor.
    #[command(
        after_help = "Example:\n  tinledger actor register --key authority.pem --id SMELTER-MUNTOK --name 'PT Muntok Smelter' \\\n    --role smelter --public-key smelter.pub.pem --rmi-cid CID001482 --country ID --location=-2.0617,105.1586"
    )]
    Register(RegisterArgs),
    /// Suspend an actor: its key signs nothing until reinstated.
    #[command(
        after_help = "Example:\n  tinledger actor suspend --key authority.pem --id MINE-JEBUS --reason 'licence under review'"
    )]
    Suspend(SuspendArgs),
    /// Lift a suspension.
    #[command(after_help = "Example:\n  tinledger actor reinstate --key authority.pem --id MINE-JEBUS")]
    Reinstate(ActorOnly),
    /// Revoke an actor for good, optionally marking its key compromised since a seq.
    #[command(
        after_help = "Example:\n  tinledger actor revoke --key authority.pem --id COLLECTOR-X --reason 'key stolen' --compromised-since 30"
    )]
    Revoke(RevokeArgs),
    /// Replace an actor's key, optionally marking the old one compromised since a seq.
    #[command(
        after_help = "Example:\n  tinledger actor rotate --key authority.pem --id SMELTER-MUNTOK --public-key new.pub.pem"
    )]
    Rotate(RotateArgs),
    /// List registered actors.
    #[command(after_help = "Example:\n  tinledger actor list --json")]
    List,
    /// Show one actor with its key history.
    #[command(after_help = "Example:\n  tinledger actor show SMELTER-MUNTOK")]
    Show {
        /// Actor id.
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub signing: Signing,
    /// Actor id (capitals, digits and dashes, e.g. SMELTER-MUNTOK).
    #[arg(long)]
    pub id: String,
    /// Display name of the actor, e.g. 'PT Muntok Smelter'.
    #[arg(long)]
    pub name: String,
    /// Role (repeat for several): mine, collector, smelter, lab, manufacturer, exporter, auditor, transporter.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// The actor's public key: 64 hex digits, or a PEM file (public or private key).
    #[arg(long, value_name = "KEY")]
    pub public_key: String,
    /// Mining business licence (IUP) number.
    #[arg(long)]
    pub iup: Option<String>,
    /// RMI smelter id (CID + 6 digits).
    #[arg(long)]
    pub rmi_cid: Option<String>,
    /// Business id (NIB, 13 digits).
    #[arg(long)]
    pub nib: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    #[arg(long)]
    pub country: Option<String>,
    /// WGS84 `LAT,LON` (write `--location=-2.06,105.15` for southern latitudes).
    #[arg(long, allow_hyphen_values = true)]
    pub location: Option<String>,
}

#[derive(Args, Debug)]
pub struct SuspendArgs {
    #[command(flatten)]
    pub signing: Signing,
    /// Actor id (capitals, digits and dashes, e.g. SMELTER-MUNTOK).
    #[arg(long)]
    pub id: String,
    /// Why (free text, recorded in the signed event).
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct ActorOnly {
    #[command(flatten)]
    pub signing: Signing,
    /// Actor id (capitals, digits and dashes, e.g. SMELTER-MUNTOK).
    #[arg(long)]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub signing: Signing,
    /// Actor id (capitals, digits and dashes, e.g. SMELTER-MUNTOK).
    #[arg(long)]
    pub id: String,
    /// Why (free text, recorded in the signed event).
    #[arg(long)]
    pub reason: String,
    /// Entries signed with the current key from this seq on are untrusted.
    #[arg(long, value_name = "SEQ")]
    pub compromised_since: Option<u64>,
}

/// `record bind-log-key` / `sign bind-log-key`.
#[derive(Args, Debug)]
pub struct BindLogKeyArgs {
    #[command(flatten)]
    pub signing: Signing,
    /// The log key's public key: 64 hex digits, or a PEM file (make the key
    /// with `tinledger keygen`; it must not be any actor's key).
    #[arg(long, value_name = "KEY")]
    pub public_key: String,
}

#[derive(Args, Debug)]
pub struct RotateArgs {
    #[command(flatten)]
    pub signing: Signing,
    /// Actor id (capitals, digits and dashes, e.g. SMELTER-MUNTOK).
    #[arg(long)]
    pub id: String,
    /// The new public key: 64 hex digits, or a PEM file.
    #[arg(long, value_name = "KEY")]
    pub public_key: String,
    /// Entries signed with the old key from this seq on are untrusted.
    #[arg(long, value_name = "SEQ")]
    pub compromised_since: Option<u64>,
}

/// How masses and grades write their numbers (docs/cli.md §1.5).
#[derive(Args, Debug, Clone, Copy)]
pub struct NumberArgs {
    /// Read a comma as the decimal separator of masses and grades (1998,5kg, 72,5%);
    /// a point is then refused.
    #[arg(long)]
    pub decimal_comma: bool,
}

/// Event kinds for `record` and `sign`.
#[derive(Subcommand, Debug)]
pub enum Kind {
    /// A mine creates a lot of ore or concentrate.
    #[command(after_help = kind_example!(
        "extract",
        "--key mine.pem --lot ORE-001 --material ore --mass 1250kg --grade 68% \\\n    --licence 'IUP-OP 540/112/KOBA/2019' --location=-2.4905,106.4075"
    ))]
    Extract {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        numbers: NumberArgs,
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// ore or concentrate.
        #[arg(long, default_value = "ore")]
        material: String,
        /// Mass with its unit: 1250kg, 1.25t or 1250000g (a bare number is refused).
        #[arg(long)]
        mass: String,
        /// Declared Sn grade with its unit: 68% or 680000ppm.
        #[arg(long)]
        grade: Option<String>,
        /// The mine's IUP number (must match its registration).
        #[arg(long)]
        licence: String,
        /// WGS84 `LAT,LON` of the pit (write `--location=-2.49,106.41`).
        #[arg(long, allow_hyphen_values = true)]
        location: String,
    },
    /// Hand a lot to a receiver.
    #[command(after_help = kind_example!(
        "dispatch",
        "--key mine.pem --lot ORE-001 --to COLLECTOR-PANGKALPINANG \\\n    --transporter TRANSPORTER-BABEL --document SJ/2026/0117"
    ))]
    Dispatch {
        #[command(flatten)]
        signing: Signing,
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// Receiving actor.
        #[arg(long)]
        to: String,
        /// Registered transporter.
        #[arg(long)]
        transporter: Option<String>,
        /// Delivery document (surat jalan) number.
        #[arg(long)]
        document: String,
    },
    /// Confirm receipt with the measured mass; custody moves to you.
    #[command(after_help = kind_example!("receive", "--key collector.pem --lot ORE-001 --mass 1240kg"))]
    Receive {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        numbers: NumberArgs,
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// Measured gross mass with its unit: 1240kg, 1.24t or 1240000g.
        #[arg(long)]
        mass: String,
    },
    /// Attest a lot's grade (labs).
    #[command(after_help = kind_example!(
        "assay",
        "--key lab.pem --lot CONC-07 --grade 72.5% --method XRF --report LAB/2026/031"
    ))]
    Assay {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        numbers: NumberArgs,
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// Sn grade with its unit: 72.5% or 725000ppm.
        #[arg(long)]
        grade: String,
        /// Method, e.g. XRF or wet chemistry.
        #[arg(long)]
        method: String,
        /// Report number.
        #[arg(long)]
        report: String,
    },
    /// Consume ore/concentrate lots (whole or in part) and produce ingot lots.
    #[command(after_help = kind_example!(
        "smelt",
        "--key smelter.pem --input CONC-07:800kg \\\n    --output INGOT-2026-0042:ingot:540kg:99.9%"
    ))]
    Smelt {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        numbers: NumberArgs,
        /// LOT:MASS taken from an input lot (repeat).
        #[arg(long = "input", required = true)]
        inputs: Vec<String>,
        /// LOT:MATERIAL:MASS:GRADE of a new lot (repeat).
        #[arg(long = "output", required = true)]
        outputs: Vec<String>,
    },
    /// Split parts off a lot; parts keep its material and grade.
    #[command(after_help = kind_example!(
        "split",
        "--key smelter.pem --lot INGOT-2026-0042 \\\n    --part INGOT-2026-0042-A:270kg --part INGOT-2026-0042-B:270kg"
    ))]
    Split {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        numbers: NumberArgs,
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// NEWLOT:MASS (repeat).
        #[arg(long = "part", required = true)]
        parts: Vec<String>,
    },
    /// Merge whole lots of one material into a new lot.
    #[command(after_help = kind_example!(
        "merge",
        "--key collector.pem --input ORE-001 --input ORE-002 --output ORE-001-002"
    ))]
    Merge {
        #[command(flatten)]
        signing: Signing,
        /// Input lot (repeat, at least two).
        #[arg(long = "input", required = true)]
        inputs: Vec<String>,
        /// New lot id.
        #[arg(long)]
        output: String,
    },
    /// Turn tin lots into product lots (solder, tinplate, components).
    #[command(after_help = kind_example!(
        "manufacture",
        "--key maker.pem --input INGOT-2026-0042-A:250kg \\\n    --output SOLDER-007:solder:259kg:96.5%"
    ))]
    Manufacture {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        numbers: NumberArgs,
        /// LOT:MASS (repeat).
        #[arg(long = "input", required = true)]
        inputs: Vec<String>,
        /// LOT:MATERIAL:MASS:GRADE (repeat).
        #[arg(long = "output", required = true)]
        outputs: Vec<String>,
    },
    /// Ship a lot out of the country.
    #[command(after_help = kind_example!(
        "export",
        "--key exporter.pem --lot SOLDER-007 --destination JP --hs-code 8003.00 \\\n    --permit ET-TIMAH/2026/0157 --surveyor-report LS-SI/2026/03/0912 \\\n    --consignee 'Osaka Denshi Buhin KK'"
    ))]
    Export {
        #[command(flatten)]
        signing: Signing,
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// ISO country of destination.
        #[arg(long)]
        destination: String,
        /// HS code, e.g. 8001.10 (unwrought tin) or 8003.00 (solder wire).
        #[arg(long)]
        hs_code: String,
        /// Export permit number.
        #[arg(long)]
        permit: String,
        /// Surveyor report (LS) number.
        #[arg(long)]
        surveyor_report: String,
        /// Consignee abroad (company name).
        #[arg(long)]
        consignee: String,
    },
    /// Authority: register an actor (same as `actor register`).
    #[command(after_help = kind_example!(
        "register-actor",
        "--key authority.pem --id LAB-BABEL --name 'Lab Babel' --role lab \\\n    --public-key lab.pub.pem --country ID"
    ))]
    RegisterActor(RegisterArgs),
    /// Authority: suspend an actor.
    #[command(after_help = kind_example!(
        "suspend-actor",
        "--key authority.pem --id MINE-JEBUS --reason 'licence under review'"
    ))]
    SuspendActor(SuspendArgs),
    /// Authority: reinstate an actor.
    #[command(after_help = kind_example!("reinstate-actor", "--key authority.pem --id MINE-JEBUS"))]
    ReinstateActor(ActorOnly),
    /// Authority: revoke an actor.
    #[command(after_help = kind_example!(
        "revoke-actor",
        "--key authority.pem --id COLLECTOR-X --reason 'key stolen' --compromised-since 30"
    ))]
    RevokeActor(RevokeArgs),
    /// Authority: rotate an actor's key.
    #[command(after_help = kind_example!(
        "rotate-key",
        "--key authority.pem --id SMELTER-MUNTOK --public-key new.pub.pem"
    ))]
    RotateKey(RotateArgs),
    /// Authority: bind the log key, the dedicated key the log server signs
    /// checkpoints with (docs/server.md, "The log key"); a later binding
    /// replaces it.
    #[command(after_help = kind_example!(
        "bind-log-key",
        "--key authority.pem --public-key log.pub.pem"
    ))]
    BindLogKey(BindLogKeyArgs),
    /// Correct a mass or grade you mis-keyed in your own extract, receive or
    /// assay, while nothing has used the lot since (docs/model.md, "Corrections").
    #[command(after_help = kind_example!(
        "correct",
        "--key mine.pem --entry 12 --mass 1250kg --reason 'typed 1.25 kg for 1250 kg'"
    ))]
    Correct(CorrectArgs),
}

/// `record correct` / `sign correct`.
#[derive(Args, Debug)]
pub struct CorrectArgs {
    #[command(flatten)]
    pub signing: Signing,
    /// The entry to correct: SEQ or HASH (with `record`), or SEQ:HASH (required with `sign`).
    #[arg(long, value_name = "SEQ|HASH|SEQ:HASH")]
    pub entry: String,
    /// The lot the entry names (found from the ledger with `record`; required with `sign`).
    #[arg(long)]
    pub lot: Option<String>,
    /// The right mass (an extract or a receive), e.g. 1250kg.
    #[arg(long)]
    pub mass: Option<String>,
    /// The right grade (an extract or an assay), e.g. 72.5%.
    #[arg(long)]
    pub grade: Option<String>,
    /// Why: what was keyed wrong (shown in the lot's history and certificates).
    #[arg(long)]
    pub reason: String,
}

#[derive(Subcommand, Debug)]
pub enum ProveCmd {
    /// Prove that entry SEQ is in the tree of a signed checkpoint.
    #[command(after_help = "Example:\n  tinledger prove inclusion 35 --out proof.json")]
    Inclusion {
        /// Sequence number of the entry.
        seq: u64,
        /// Checkpoint to prove against (default: the latest stored one).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Write the proof to FILE instead of stdout (`-` is stdout too).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write a C2SP tlog-proof (docs/formats.md, "tlog-proof") to FILE instead of the JSON proof.
        #[arg(long, value_name = "FILE", conflicts_with = "out")]
        tlog_proof: Option<PathBuf>,
    },
    /// Prove that a newer checkpoint extends an older one (history not rewritten).
    #[command(after_help = "Example:\n  tinledger prove consistency --old cp-march.txt --out cons.json")]
    Consistency {
        /// The older checkpoint (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        old: PathBuf,
        /// The newer checkpoint (default: the latest stored one; `-` for standard input).
        #[arg(long, value_name = "FILE")]
        new: Option<PathBuf>,
        /// Where to write it (`-` for standard output; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Prove which log key signs a checkpoint: the inclusion proof of its
    /// `bind_log_key` entry, for `check checkpoint --binding`.
    #[command(after_help = "Example:\n  tinledger prove log-key --out binding.json")]
    LogKey {
        /// Checkpoint to prove against (default: the latest stored one).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Write the proof to FILE instead of stdout (`-` is stdout too).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Whom to trust when checking offline.
#[derive(Args, Debug, Clone)]
pub struct Trust {
    /// The authority's public key: 64 hex digits or a PEM file. Repeat it with
    /// each key the authority held (across a key rotation): every checkpoint
    /// opens with any of them.
    #[arg(long, value_name = "KEY", required_unless_present = "verifier_key")]
    pub authority_key: Vec<String>,
    /// Or the signed-note verifier key (name+hash+base64) from `checkpoint --verifier-key`; may be repeated too.
    #[arg(long, value_name = "VKEY", conflicts_with = "authority_key")]
    pub verifier_key: Vec<String>,
    #[command(flatten)]
    pub pass: PassphraseEnv,
}

#[derive(Subcommand, Debug)]
pub enum CheckCmd {
    /// Check an inclusion proof from `prove inclusion`.
    #[command(after_help = "Example:\n  tinledger check inclusion proof.json --authority-key authority.pub.pem")]
    Inclusion {
        /// The proof file (`-` for standard input).
        proof: PathBuf,
        #[command(flatten)]
        trust: Trust,
        #[command(flatten)]
        policy: PolicyArg,
    },
    /// Check a consistency proof from `prove consistency`.
    #[command(
        after_help = "Example:\n  tinledger check consistency cons.json --verifier-key 'tinledger/…+1a2b3c4d+AQ…'"
    )]
    Consistency {
        /// The proof file (`-` for standard input).
        proof: PathBuf,
        #[command(flatten)]
        trust: Trust,
    },
    /// Check a signed checkpoint file.
    #[command(after_help = "Example:\n  tinledger check checkpoint cp.txt --authority-key authority.pub.pem")]
    Checkpoint {
        /// The checkpoint file (`-` for standard input).
        checkpoint: PathBuf,
        #[command(flatten)]
        trust: Trust,
        /// For a checkpoint signed by the log key: the proof of its binding
        /// (`tinledger prove log-key`), so that the authority's key suffices.
        #[arg(long, value_name = "FILE")]
        binding: Option<PathBuf>,
        #[command(flatten)]
        policy: PolicyArg,
    },
    /// Check a C2SP tlog-proof from `prove inclusion --tlog-proof` offline, with a trust policy.
    #[command(
        after_help = "Example:\n  tinledger check tlog-proof entry-35.tlog-proof --policy babel.policy\n  tinledger check tlog-proof entry-35.tlog-proof --policy babel.policy --entry entry-35.bin"
    )]
    TlogProof {
        /// The tlog-proof file (`-` for standard input).
        proof: PathBuf,
        /// The trust policy: its log lines name the keys that may sign the checkpoint, its quorum the witnesses.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// The entry's bytes (default: the entry carried on the proof's `extra` line).
        #[arg(long, value_name = "FILE")]
        entry: Option<PathBuf>,
        /// For a policy without log lines: the note verifier key that signs the checkpoint (may be repeated).
        #[arg(long, value_name = "VKEY")]
        verifier_key: Vec<String>,
    },
    /// Confirm split-view evidence from `monitor` offline: two checkpoints of one log key that cannot be joined.
    #[command(after_help = "Example:\n  tinledger check split-view monitor/split-view-1.json --log-key log.pub.pem")]
    SplitView {
        /// The evidence file (JSON, docs/witness.md "Split-view evidence"; `-` for standard input).
        evidence: PathBuf,
        /// The log's public key: a PEM public key file, 64 hex digits, or a note verifier key (name+hash+base64).
        #[arg(long, value_name = "KEY")]
        log_key: String,
    },
}

/// A trust policy a checkpoint must satisfy as well (docs/witness.md, "Trust policies").
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArg {
    /// Also require the checkpoint to satisfy this C2SP tlog-policy: signed by one of its logs (if it lists any)
    /// and cosigned by its quorum of witnesses.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `tinledger monitor` (docs/witness.md, "Monitoring").
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Base URLs of logs, mirrors or static copies (tlog-tiles): each is asked for URL/checkpoint.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// The trust policy: its logs sign the checkpoints watched; its witnesses with a URL are polled too.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Directory for the checkpoints seen (append-only, kept across runs) and, by default, the evidence.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// One round, then stop.
    #[arg(long, conflicts_with = "rounds")]
    pub once: bool,
    /// Stop after N rounds (default: run until stopped or a split view is found).
    #[arg(long, value_name = "N")]
    pub rounds: Option<u64>,
    /// Seconds between rounds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub interval: u64,
    /// Where to write split-view evidence (never overwritten; default: STATE/split-view-N.json).
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Issue a certificate for a lot you hold or exported, against the latest signed checkpoint.
    #[command(
        after_help = "Example:\n  tinledger cert issue --lot SOLDER-KEK-2026-007 --key exporter.pem --out solder-007.cert.json"
    )]
    Issue {
        /// Lot id (e.g. ORE-001, INGOT-2026-0042).
        #[arg(long)]
        lot: String,
        /// The exporter's private key (PEM).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Where to write the certificate (JSON; `-` for standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Issue time (RFC 3339); now by default.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[command(flatten)]
        pass: PassphraseEnv,
    },
    /// Verify a certificate offline: no ledger, only the authority's key.
    #[command(after_help = "Example:\n  tinledger cert verify solder-007.cert.json --authority-key authority.pub.pem")]
    Verify {
        /// The certificate file (JSON; `-` for standard input).
        cert: PathBuf,
        #[command(flatten)]
        trust: Trust,
        #[command(flatten)]
        policy: PolicyArg,
    },
    /// Verify a certificate offline, then render it as a self-contained HTML page.
    #[command(
        after_help = "Examples:\n  tinledger cert render solder-007.cert.json --html solder-007.html --authority-key authority.pub.pem\n  tinledger cert render suspect.cert.json --html suspect.html --unverified   # the page says NOT VERIFIED"
    )]
    Render {
        /// The certificate file (JSON; `-` for standard input).
        cert: PathBuf,
        /// Where to write the HTML page (`-` for standard output; never overwritten).
        #[arg(long, value_name = "OUT.html")]
        html: PathBuf,
        /// The authority's public key: 64 hex digits or a PEM file (repeat across a key rotation).
        #[arg(long, value_name = "KEY", required_unless_present_any = ["verifier_key", "unverified"])]
        authority_key: Vec<String>,
        /// Or the signed-note verifier key from `checkpoint --verifier-key`; may be repeated too.
        #[arg(long, value_name = "VKEY", conflicts_with = "authority_key")]
        verifier_key: Vec<String>,
        /// Render without verifying; the page then says NOT VERIFIED on every printed page.
        #[arg(long, conflicts_with_all = ["authority_key", "verifier_key", "policy"])]
        unverified: bool,
        #[command(flatten)]
        policy: PolicyArg,
    },
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A head saved earlier, `SEQ:HASH`: the chain must still contain that entry.
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<String>,
    /// Also compare every derived index (lot states, lot and actor histories,
    /// event ids, every Merkle node) with the chain. Full audits only.
    #[arg(long, conflicts_with = "since")]
    pub indices: bool,
    /// Incremental audit: CHECKPOINT is a signed checkpoint you trusted; the
    /// snapshot an earlier `verify --snapshot CHECKPOINT` saved as
    /// CHECKPOINT.state is the starting point. Only newer entries are replayed.
    #[arg(long, value_name = "CHECKPOINT")]
    pub since: Option<PathBuf>,
    /// Check this signed checkpoint against the chain and save the rule state
    /// at its size to CHECKPOINT.state, for a later `verify --since CHECKPOINT`.
    #[arg(long, value_name = "CHECKPOINT")]
    pub snapshot: Option<PathBuf>,
    /// The auditor's key, for --snapshot and --since: a private key (PEM) signs
    /// the snapshot written; a private or public key (PEM or 64 hex digits)
    /// checks the snapshot read.
    #[arg(long, value_name = "KEY")]
    pub auditor_key: Option<String>,
    /// With --server: the authority's public key the served log's genesis must name (else the genesis is
    /// trusted as found and its authority key printed); may be repeated.
    #[arg(long, value_name = "KEY")]
    pub authority_key: Vec<String>,
    /// With --server: the served checkpoint must also satisfy this C2SP tlog-policy (its logs, its witness quorum).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassphraseEnv,
}

/// What the rows are and when they happened.
#[derive(Args, Debug)]
pub struct InputArgs {
    /// CSV only: the event kind of every row (default: from the file name, `KIND.csv`).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Time of rows without an `at` cell (RFC 3339); now by default.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[command(flatten)]
    pub numbers: NumberArgs,
}

/// `tinledger serve` (docs/server.md, "Flags").
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// The log key (PEM) that signs checkpoints; never the authority's key.
    #[arg(long, value_name = "FILE", required_unless_present = "read_only")]
    pub log_key: Option<PathBuf>,
    /// Serve reads only: no submissions, no new checkpoints (a mirror).
    #[arg(long)]
    pub read_only: bool,
    /// Events sequenced together in one durable append at most.
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// Milliseconds a batch waits for more events after its first.
    #[arg(long, default_value_t = 5, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub batch_wait_ms: u64,
    /// Least seconds between two signed checkpoints (one is signed whenever the tree grew).
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub checkpoint_interval: f64,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    pub max_body: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Events waiting for the sequencer at most (more: 503 with Retry-After).
    #[arg(long, default_value_t = 65_536, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub queue: u64,
    /// A C2SP tlog-policy file: every new checkpoint goes to its witnesses (each with a URL) before it is served.
    #[arg(long, value_name = "POLICY_FILE", conflicts_with = "read_only")]
    pub witnesses: Option<PathBuf>,
    /// Seconds all witnesses together may take per checkpoint (a slow one delays publication no longer).
    #[arg(long, default_value_t = 3.0, value_name = "SECS", requires = "witnesses")]
    pub witness_timeout: f64,
    #[command(flatten)]
    pub timeouts: HttpTimeouts,
    #[command(flatten)]
    pub pass: PassphraseEnv,
}

/// The read and write timeouts of `serve` and `witness serve`.
#[derive(Args, Debug)]
pub struct HttpTimeouts {
    /// Seconds to receive a request's head or body, and to wait idle between requests.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub read_timeout: f64,
    /// Seconds a response write may stall before the connection is closed.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub write_timeout: f64,
}

/// `tinledger witness ...` (docs/witness.md).
#[derive(Subcommand, Debug)]
pub enum WitnessCmd {
    /// Serve POST /add-checkpoint (C2SP tlog-witness v1) and GET /checkpoint/<origin>.
    #[command(
        after_help = "Example:\n  tinledger witness serve --key witness.pem --name witness.example/w1 --state ./witness-state \\\n      --listen 127.0.0.1:7380 --log \"$(tinledger --ledger ./ledger checkpoint --log-verifier-key)\"\nThe state directory is the witness's memory: never restore an old copy (docs/witness.md)."
    )]
    Serve(WitnessServeArgs),
    /// Print the witness's cosignature/v1 verifier key (name+hash+base64), the line a tlog-policy file lists.
    #[command(
        after_help = "Example:\n  tinledger witness key --key witness.pem --name witness.example/w1\n  witness.example/w1+d9ed62c5+BO1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR"
    )]
    Key {
        /// The witness's private key (PEM, from `tinledger keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The witness's name (a schema-less URL such as witness.example/w1; no spaces or '+').
        #[arg(long, value_name = "NAME")]
        name: String,
        #[command(flatten)]
        pass: PassphraseEnv,
    },
}

/// `tinledger witness serve` (docs/witness.md, "Operating a witness").
#[derive(Args, Debug)]
pub struct WitnessServeArgs {
    /// The witness's private key (PEM, from `tinledger keygen`); never a log's or the authority's key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The witness's name (a schema-less URL such as witness.example/w1; no spaces or '+').
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Address to listen on (port 0: a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:7380", value_name = "ADDR")]
    pub listen: String,
    /// State directory: the latest cosigned checkpoint of each log (never restore an old copy).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// A trusted log's note verifier key name+hash+base64 (type 0x01; its name is the log's origin), as
    /// `tinledger checkpoint --log-verifier-key` prints it. Repeatable.
    #[arg(long = "log", value_name = "VKEY", required = true)]
    pub logs: Vec<String>,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    #[command(flatten)]
    pub timeouts: HttpTimeouts,
    #[command(flatten)]
    pub pass: PassphraseEnv,
}

/// `tinledger sign-batch`.
#[derive(Args, Debug)]
pub struct SignBatchArgs {
    /// CSV (one event kind, header row) or JSON Lines file of unsigned events (`-`: standard input, CSV needs --kind).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The signer's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Signer's actor id (looked up from the key in --ledger when omitted and a ledger is there).
    #[arg(long = "as", value_name = "ACTOR")]
    pub signer: Option<String>,
    /// The ledger id the events are for (default: read from --ledger when a ledger is there).
    #[arg(long, value_name = "HEX")]
    pub ledger_id: Option<String>,
    /// Where to write the signed events (JSON Lines; never overwritten; `-` for standard output).
    #[arg(long, value_name = "SIGNED")]
    pub out: PathBuf,
    #[command(flatten)]
    pub pass: PassphraseEnv,
    #[command(flatten)]
    pub input: InputArgs,
}

/// `tinledger import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Signed JSON Lines (from sign-batch or sign), or unsigned CSV/JSON Lines with --key (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Sign unsigned rows on this host with this private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Signer's actor id; looked up from the key when omitted.
    #[arg(long = "as", value_name = "ACTOR", requires = "key")]
    pub signer: Option<String>,
    #[command(flatten)]
    pub pass: PassphraseEnv,
    #[command(flatten)]
    pub input: InputArgs,
}

/// `tinledger log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// First entry: a sequence number, or a time (RFC 3339) for entries timed at or after it.
    #[arg(long, value_name = "SEQ|TIME")]
    pub from: Option<String>,
    /// Last entry: a sequence number, or a time (RFC 3339) for entries timed at or before it.
    #[arg(long, value_name = "SEQ|TIME")]
    pub to: Option<String>,
    /// Only entries that name this actor (as signer, receiver, transporter or subject).
    #[arg(long, value_name = "ACTOR")]
    pub actor: Option<String>,
    /// Only entries of this kind (receive, smelt, register-actor, ...).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only entries that name this lot.
    #[arg(long, value_name = "LOT")]
    pub lot: Option<String>,
}

/// `tinledger lot`.
#[derive(Args, Debug)]
pub struct LotArgs {
    #[command(subcommand)]
    pub cmd: Option<LotCmd>,
    /// Lot id.
    #[arg(value_name = "ID", required = true)]
    pub id: Option<String>,
    /// Print the upstream provenance tree: every input lot back to the mines.
    #[arg(long)]
    pub tree: bool,
    /// With --tree: print the tree as Graphviz DOT (`dot -Tsvg`).
    #[arg(long, requires = "tree")]
    pub dot: bool,
}

#[derive(Subcommand, Debug)]
pub enum LotCmd {
    /// List lots; the filters given must all match.
    #[command(
        after_help = "Examples:\n  tinledger lot list\n  tinledger lot list --held-by SMELTER-MUNTOK --state held\n  tinledger lot list --material ingot --state exported --json"
    )]
    List {
        /// Only lots whose custodian is ACTOR (in transit: the sender; consumed or exported: the last holder).
        #[arg(long, value_name = "ACTOR")]
        held_by: Option<String>,
        /// Only lots of this material (ore, concentrate, ingot, solder, ...).
        #[arg(long, value_name = "MATERIAL")]
        material: Option<String>,
        /// Only lots in this state: held, in-transit, consumed or exported.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// An actor's mass balance for a period: stock, flows, yield, discrepancies (docs/model.md, "Mass balance").
    #[command(
        after_help = "Examples:\n  tinledger report balance --actor SMELTER-MUNTOK --from 2026-03-01T00:00:00Z --to 2026-03-31T23:59:59Z\n  tinledger report balance --actor SMELTER-MUNTOK --csv > muntok-2026-03.csv"
    )]
    Balance {
        /// The actor whose stock is balanced.
        #[arg(long, value_name = "ACTOR")]
        actor: String,
        /// Start of the period (RFC 3339, inclusive); the ledger's start by default.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// End of the period (RFC 3339, inclusive); no end by default.
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Print CSV (figure,value,unit,seq,lot) instead of text.
        #[arg(long)]
        csv: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument of every command, with the path of commands to it.
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, bool)>) {
        for a in cmd.get_arguments() {
            if a.get_id() == "help" || a.get_id() == "version" || a.is_hide_set() {
                continue;
            }
            out.push((path.to_string(), a.get_id().to_string(), a.get_help().is_some()));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_of_every_command_has_help() {
        Cli::command().debug_assert();
        let mut args = Vec::new();
        walk(&Cli::command(), "tinledger", &mut args);
        assert!(args.len() > 100, "the walk found only {} arguments", args.len());
        let missing: Vec<String> =
            args.iter().filter(|(_, _, help)| !help).map(|(p, id, _)| format!("{p}: {id}")).collect();
        assert!(missing.is_empty(), "arguments without help text:\n{}", missing.join("\n"));
    }

    #[test]
    fn passphrase_env_is_offered_only_where_a_key_is_read() {
        let mut args = Vec::new();
        walk(&Cli::command(), "tinledger", &mut args);
        let with: Vec<&str> =
            args.iter().filter(|(_, id, _)| id == "passphrase_env").map(|(p, _, _)| p.as_str()).collect();
        for never in ["tinledger log", "tinledger lot", "tinledger show", "tinledger export", "tinledger completions"] {
            assert!(!with.contains(&never), "{never} offers --passphrase-env: {with:?}");
        }
        for reads in ["tinledger keygen", "tinledger record extract", "tinledger cert issue", "tinledger verify"] {
            assert!(with.contains(&reads), "{reads} lacks --passphrase-env: {with:?}");
        }
    }
}
