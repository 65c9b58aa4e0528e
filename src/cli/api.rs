//! The `api` and `zone deploy` subcommands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{exit, Format, Global};
use crate::cloudstack::client::{Auth, Client, Notice, Options};
use crate::cloudstack::credentials::{self, Credentials};
use crate::cloudstack::error::ApiError;
use crate::cloudstack::sign;
use crate::cloudstack::zone::{self, DeployOptions};
use crate::profile::Profile;

/// `cloudstrap api COMMAND [NAME=VALUE ...]`: one signed API call (it replaces the seed guide's
/// generate-url.pl).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// API command, e.g. listZones.
    pub command: String,
    /// Parameters, each NAME=VALUE.
    #[arg(value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Print the signed URL instead of sending the request.
    #[arg(long)]
    pub print_url: bool,
    /// Sign with this expiry (yyyy-MM-ddTHH:mm:ss+ZZZZ) instead of ten minutes from now.
    #[arg(long, value_name = "TIMESTAMP")]
    pub expires: Option<String>,
    /// Take the endpoint and keys from this profile's [management] section.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Print an async command's job id instead of waiting for its result.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum ZoneCmd {
    /// Deploy the profile's zone (or finish a deployment that stopped half-way).
    Deploy(ZoneDeployArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ZoneDeployArgs {
    /// The profile whose [zone] to deploy (API keys from it, the environment or the hand-off's keys file).
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
    /// Also wait for the system VMs (secondary storage VM, console proxy) to be Running.
    #[arg(long)]
    pub wait_system_vms: bool,
    /// Longest wait for each host to be Up, in seconds.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    pub host_timeout: f64,
    /// Longest wait for the system VMs, in seconds.
    #[arg(long, default_value_t = 1800.0, value_name = "SECONDS")]
    pub system_vm_timeout: f64,
    /// The longest gap between two polls of jobs, hosts and system VMs (the first comes after 0.15 s,
    /// later ones back off to this).
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    pub poll_interval: f64,
}

/// One line on standard output; a closed pipe (`cloudstrap api listZones | head`) is not an error.
fn say(line: &str) {
    crate::console::line(line);
}

fn fail(e: &ApiError) -> u8 {
    eprintln!("cloudstrap: {e}");
    match e {
        ApiError::Input(_) => exit::INPUT,
        _ => exit::FAILED,
    }
}

/// The profile, validated; its problems are printed located (FILE:LINE:COL: key: what).
fn load_profile(path: &Path) -> Result<Profile, u8> {
    crate::profile::load(path).map_err(|e| {
        eprintln!("{e}");
        exit::INPUT
    })
}

fn seconds(v: f64, flag: &str) -> Result<Duration, u8> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        eprintln!("cloudstrap: {flag} takes a number of seconds, not {v}");
        exit::INPUT
    })
}

/// Parse NAME=VALUE arguments. A name given twice is refused: the server keeps the last value of a GET
/// and the first of a POST body, so its meaning would depend on the method.
pub fn parse_params(args: &[String]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = vec![];
    for a in args {
        match a.split_once('=') {
            Some((k, _)) if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)) => {
                return Err(ApiError::Input(format!("{k} is given twice; the server would keep the last value of a GET and the first of a POST, so give it once")));
            }
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => return Err(ApiError::Input(format!("\"{a}\" is not NAME=VALUE"))),
        }
    }
    Ok(out)
}

fn keys_client(c: &Credentials, options: Options) -> Result<Client, ApiError> {
    Client::new(&c.endpoint, Auth::Keys { api_key: c.api_key.clone(), secret: c.secret.clone() }, options)
}

pub fn run_api(args: &ApiArgs, global: &Global) -> u8 {
    let params = match parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Some(e) = &args.expires {
        if sign::parse_expires(e).is_none() {
            return fail(&ApiError::Input(format!("--expires \"{e}\" is not a timestamp like 2030-01-31T12:00:00+0000")));
        }
    }
    let profile = match &args.profile {
        Some(p) => match load_profile(p) {
            Ok(pr) => Some((pr, p.clone())),
            Err(code) => return code,
        },
        None => None,
    };
    let creds = match credentials::resolve(profile.as_ref().map(|(p, path)| (p, path.as_path())), &global.root) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let options = profile.as_ref().map_or_else(Options::default, |(p, _)| Options::for_profile(p));
    let options = Options { notice: Notice::new(|m| eprintln!("cloudstrap: {m}")), ..options };
    let client = match keys_client(&creds, options) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if args.print_url {
        crate::console::print(&format!("{}\n", client.signed_url(&args.command, &refs, args.expires.as_deref())));
        return exit::OK;
    }
    let result = match &args.expires {
        // A fixed expiry applies to this one request: send exactly what --print-url shows.
        Some(e) => send_fixed(&client, &args.command, &refs, e),
        None => client.execute_raw(&args.command, &refs),
    };
    let doc = match result {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let inner = doc.as_object().and_then(|o| o.values().next().cloned()).unwrap_or_default();
    let out = match Client::job_of(&args.command, &inner) {
        Some(job) if !args.no_wait => match client.wait_job_document(&args.command, &job) {
            Ok(d) => d,
            Err(e) => return fail(&e),
        },
        _ => doc,
    };
    crate::console::print(&format!("{}\n", serde_json::to_string_pretty(&out).unwrap_or_default()));
    exit::OK
}

/// Send the request exactly as signed with a fixed expiry: the URL --print-url shows for a list, the same
/// parameters in a POST body for anything else.
fn send_fixed(client: &Client, command: &str, params: &[(&str, &str)], expires: &str) -> Result<serde_json::Value, ApiError> {
    let all = client.request_params(command, params, Some(expires));
    let http = reqwest::blocking::Client::builder()
        .timeout(client.options.timeout_for(command))
        .build()
        .map_err(|e| ApiError::Input(format!("cannot set up the HTTP client: {e}")))?;
    let mut url = url::Url::parse(client.endpoint()).map_err(|e| ApiError::Input(e.to_string()))?;
    url.set_query(None);
    let query = sign::query_string(&all);
    let req = if command.starts_with("list") {
        http.get(format!("{url}?{query}"))
    } else {
        http.post(url).header("Content-Type", "application/x-www-form-urlencoded").body(query)
    };
    let transport = |e: reqwest::Error| ApiError::Transport { command: command.into(), endpoint: client.endpoint().into(), sent: !(e.is_connect() || e.is_builder()), reason: e.to_string() };
    let resp = req.send().map_err(transport)?;
    let status = resp.status().as_u16();
    let body = resp.text().map_err(transport)?;
    crate::cloudstack::client::parse_document(command, status, &body)
}

pub fn run_zone(cmd: &ZoneCmd, global: &Global) -> u8 {
    let ZoneCmd::Deploy(args) = cmd;
    let profile = match load_profile(&args.profile) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (host_wait, vm_wait, poll) = match (seconds(args.host_timeout, "--host-timeout"), seconds(args.system_vm_timeout, "--system-vm-timeout"), seconds(args.poll_interval, "--poll-interval")) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(c), _, _) | (_, Err(c), _) | (_, _, Err(c)) => return c,
    };
    if profile.zone.is_none() {
        return fail(&ApiError::Input(format!("{}: the profile has no [zone] section", args.profile.display())));
    }
    // Keys in the profile win; else the environment's; else those the hand-off stored.
    let has_keys = profile.management.as_ref().is_some_and(|m| m.api_key.is_some());
    let creds = match (has_keys, credentials::from_env()) {
        (false, Ok(Some(c))) => Ok(c),
        (_, Err(e)) if !has_keys => Err(e),
        _ => credentials::from_profile(&profile, &args.profile, &global.root),
    };
    let creds = match creds {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let human = global.format == Format::Human;
    // What the client waits for goes to the console as it happens (stdout with the steps, else stderr).
    let notice = Notice::new(move |m| if human { say(&format!("  ... {m}")) } else { eprintln!("cloudstrap: {m}") });
    let client = match keys_client(&creds, Options { poll_interval: poll, notice, ..Options::for_profile(&profile) }) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let opts = DeployOptions {
        host_wait,
        system_vm_wait: args.wait_system_vms.then_some(vm_wait),
        poll_interval: poll,
        profile_dir: args.profile.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")),
        ..DeployOptions::default()
    };
    if human {
        say(&format!("deploying zone from {} through {}", args.profile.display(), creds.endpoint));
    }
    let mut report = |s: &zone::Step| {
        crate::log::line(&format!("zone deploy: {s}"));
        if human {
            say(&format!("  {s}"));
        }
    };
    match zone::deploy(&client, &profile, &opts, &mut report) {
        Ok(d) => {
            if human {
                say(&format!("zone {} is deployed and enabled", d.zone_id));
            } else {
                let steps: Vec<_> = d
                    .steps
                    .iter()
                    .map(|s| serde_json::json!({"what": s.what, "outcome": format!("{:?}", s.outcome).to_lowercase(), "id": s.id}))
                    .collect();
                crate::console::result(&serde_json::json!({"outcome": "deployed", "zone_id": d.zone_id, "steps": steps}));
            }
            exit::OK
        }
        Err(e) => {
            let code = fail(&e);
            if code == exit::FAILED {
                eprintln!("cloudstrap: run `cloudstrap zone deploy` again once that is fixed: it continues where it stopped");
                if !human {
                    crate::console::result(&super::print::failed(&e.to_string()));
                }
            }
            code
        }
    }
}
