//! The API calls the simulator answers, with the real server's response shapes and refusals.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::auth;
use crate::http::{Request, Response};
use crate::state::{Job, Session, State, UserRec};
use crate::{Config, FaultMode, Simulator};

const DOMAIN_ID: &str = "b5d3b3d2-0000-4000-8000-000000000001";
const NETWORK_OFFERINGS: [&str; 3] =
    ["DefaultSharedNetworkOfferingWithSGService", "DefaultSharedNetworkOffering", "DefaultIsolatedNetworkOfferingWithSourceNatService"];

/// A fresh management server: the admin account and the default network offerings.
pub fn fresh_state(config: &Config) -> State {
    let mut s = State::default();
    s.users.push(UserRec {
        id: uuid(),
        username: config.admin_username.clone(),
        password: config.admin_password.clone(),
        account: "admin".into(),
        accountid: uuid(),
        domainid: DOMAIN_ID.into(),
        apikey: config.admin_keys.as_ref().map(|k| k.0.clone()),
        secretkey: config.admin_keys.as_ref().map(|k| k.1.clone()),
    });
    for name in NETWORK_OFFERINGS {
        s.push("networkoffering", json!({"id": uuid(), "name": name, "displaytext": name, "state": "Enabled", "guestiptype": if name.contains("Shared") {"Shared"} else {"Isolated"}}));
    }
    s
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn random_key() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut b = [0u8; 64];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Commands a hardened server still takes as a GET (they change nothing).
pub fn may_get(command: &str) -> bool {
    ["list", "get", "query", "find"].iter().any(|p| command.starts_with(p)) || command.is_empty()
}

fn response_name(command: &str) -> String {
    format!("{}response", command.to_ascii_lowercase())
}

/// An error answer: HTTP status = errorcode, as ApiServer writes it.
pub fn error(command: &str, code: u16, text: &str) -> Response {
    let cs = match code {
        431 => 4350,
        530 => 4250,
        401 => 9999,
        _ => 9999,
    };
    let name = if command.is_empty() { "errorresponse".to_string() } else { response_name(command) };
    Response::json(code, json!({ name: {"uuidList": [], "errorcode": code, "cserrorcode": cs, "errortext": text} }).to_string())
}

fn ok(command: &str, inner: Value) -> Response {
    Response::json(200, json!({ response_name(command): no_nulls(inner) }).to_string())
}

/// The server's JSON serializer leaves out fields without a value.
fn no_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k, no_nulls(x))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(no_nulls).collect()),
        other => other,
    }
}

/// A list answer: `{"count": n, "<item>": [...]}`, or `{}` when empty.
fn list(command: &str, item: &str, items: Vec<Value>) -> Response {
    if items.is_empty() {
        return ok(command, json!({}));
    }
    ok(command, json!({"count": items.len(), item: items}))
}

struct Call<'a> {
    command: &'a str,
    /// Parameters by lower-case name (the API's names are case-insensitive).
    p: BTreeMap<String, String>,
}

type Answer = Result<Response, Response>;

impl Call<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.p.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
    fn need(&self, k: &str) -> Result<&str, Response> {
        self.get(k).ok_or_else(|| error(self.command, 431, &format!("Unable to execute API command {} due to missing parameter {k}", self.command.to_ascii_lowercase())))
    }
    fn invalid(&self, k: &str, v: &str) -> Response {
        error(
            self.command,
            431,
            &format!("Unable to execute API command {} due to invalid value. Invalid parameter {k} value={v} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.", self.command.to_ascii_lowercase()),
        )
    }
    /// The id parameter `k`, which must name an object of `kind`.
    fn object(&self, state: &State, k: &str, kind: &str) -> Result<Value, Response> {
        let id = self.need(k)?;
        state.find(kind, id).cloned().ok_or_else(|| self.invalid(k, id))
    }
}

/// Route one API request: authentication first, then the command.
pub fn dispatch(sim: &Simulator, state: &mut State, req: &Request, command: &str, params: &[(String, String)]) -> Response {
    let mut p = BTreeMap::new();
    for (k, v) in params {
        p.insert(k.to_ascii_lowercase(), v.clone());
    }
    let call = Call { command, p };
    match command {
        "login" => return login(state, req, &call),
        "logout" => {
            if let Some(id) = req.cookie("JSESSIONID") {
                state.sessions.remove(&id);
            }
            return ok(command, json!({"description": "success"}));
        }
        _ => {}
    }
    // A session first (as ApiServlet does when the request carries one), else the signature.
    let session = req.cookie("JSESSIONID").and_then(|id| state.sessions.get(&id).cloned().map(|s| (id, s)));
    let user = match session {
        Some((id, s)) => {
            let from_param = call.p.get("sessionkey").cloned();
            let from_cookie = req.cookie("sessionkey");
            let good = (from_param.is_some() || from_cookie.is_some())
                && from_param.as_ref().is_none_or(|k| *k == s.sessionkey)
                && from_cookie.as_ref().is_none_or(|k| *k == s.sessionkey);
            if !good {
                state.sessions.remove(&id);
                return error(command, 401, "unable to verify user credentials");
            }
            match state.users.iter().find(|u| u.id == s.userid) {
                Some(u) => u.clone(),
                None => return error(command, 401, "unable to verify user credentials"),
            }
        }
        None => {
            if !KNOWN.contains(&command) {
                return error(command, 401, "unable to verify user credentials and/or request signature");
            }
            let has_expiry = call.p.get("signatureversion").is_some_and(|v| v == "3") && call.p.contains_key("expires");
            if sim.config.enforce_post && !has_expiry {
                return error(command, 401, "unable to verify user credentials and/or request signature: an expiry is required");
            }
            match auth::verify_signature(params, state, sim.config.now()) {
                Ok(u) => u,
                Err(_) => return error(command, 401, "unable to verify user credentials and/or request signature"),
            }
        }
    };
    if !KNOWN.contains(&command) {
        return error("", 432, &format!("The given command '{command}' either does not exist, is not available for user."));
    }
    let fault = sim.take_fault(command);
    let is_async = ASYNC.contains(&command);
    match fault {
        Some(FaultMode::Before) if !is_async => return error(command, 530, &format!("Injected failure of {command} (nothing was done)")),
        // An async command that fails shows it in its job: jobstatus 2.
        Some(FaultMode::Before) => {
            let r = async_job(state, sim, &call, &user, Value::Null, None);
            return fail_job(state, r, command);
        }
        _ => {}
    }
    match (fault, run(sim, state, &call, &user)) {
        (Some(FaultMode::Drop), _) => Response::dropped(),
        (Some(FaultMode::After), Ok(_)) if !is_async => error(command, 530, &format!("Injected failure of {command} (after it was done)")),
        (Some(FaultMode::After), Ok(r)) => fail_job(state, r, command),
        (_, Ok(r)) | (_, Err(r)) => r,
    }
}

/// Turn the job of an async answer into a failed one.
fn fail_job(state: &mut State, r: Response, command: &str) -> Response {
    if let Ok(v) = serde_json::from_str::<Value>(&r.body) {
        if let Some(job) = v[response_name(command)]["jobid"].as_str().and_then(|id| state.jobs.get_mut(id)) {
            job.resultcode = 530;
            job.result = json!({"errorcode": 530, "errortext": format!("Injected failure of {command}")});
        }
    }
    r
}

const ASYNC: &[&str] = &[
    "createPhysicalNetwork",
    "updatePhysicalNetwork",
    "addTrafficType",
    "configureVirtualRouterElement",
    "configureInternalLoadBalancerElement",
    "updateNetworkServiceProvider",
];

const KNOWN: &[&str] = &[
    "listCapabilities", "listUsers", "updateUser", "registerUserKeys", "getUserKeys", "listZones", "createZone", "updateZone",
    "listPhysicalNetworks", "createPhysicalNetwork", "updatePhysicalNetwork", "listTrafficTypes", "addTrafficType",
    "listNetworkServiceProviders", "updateNetworkServiceProvider", "listVirtualRouterElements", "configureVirtualRouterElement",
    "listInternalLoadBalancerElements", "configureInternalLoadBalancerElement", "listNetworkOfferings", "listNetworks",
    "createNetwork", "listPods", "createPod", "listVlanIpRanges", "createVlanIpRange", "listClusters", "addCluster",
    "listHosts", "addHost", "listStoragePools", "createStoragePool", "listImageStores", "addImageStore", "listSystemVms",
    "listTemplates", "queryAsyncJobResult",
];

fn login(state: &mut State, req: &Request, call: &Call) -> Response {
    if req.method != "POST" {
        return error("login", 405, "Please use HTTP POST to authenticate using this API");
    }
    let username = call.get("username").unwrap_or_default();
    let password = call.p.get("password").cloned().unwrap_or_default();
    let domain = call.get("domain").unwrap_or("/");
    let user = state.users.iter().find(|u| u.username == username && u.password == password && (domain == "/" || domain == "ROOT")).cloned();
    let Some(user) = user else {
        return error("login", 531, &format!("Failed to authenticate user {username} in domain 1; please provide valid credentials"));
    };
    let jsessionid = uuid().replace('-', "").to_ascii_uppercase();
    let sessionkey = random_key();
    state.sessions.insert(jsessionid.clone(), Session { userid: user.id.clone(), sessionkey: sessionkey.clone() });
    let mut r = ok(
        "login",
        json!({
            "timeout": "1800", "sessionkey": sessionkey, "userid": user.id, "domainid": user.domainid,
            "username": user.username, "account": user.account, "firstname": "Admin", "lastname": "User",
            "type": "1", "registered": "false", "is2faenabled": "false", "is2faverified": "true", "issuerfor2fa": "cloudstack"
        }),
    );
    r.headers.push(("Set-Cookie".into(), format!("JSESSIONID={jsessionid}; Path=/client; HttpOnly")));
    r.headers.push(("Set-Cookie".into(), format!("sessionkey={sessionkey}; HttpOnly")));
    r
}

fn user_json(u: &UserRec) -> Value {
    let mut v = json!({
        "id": u.id, "username": u.username, "account": u.account, "accountid": u.accountid, "accounttype": 1,
        "domainid": u.domainid, "domain": "ROOT", "state": "enabled", "firstname": "Admin", "lastname": "User",
        "roletype": "Admin", "rolename": "Root Admin", "iscallerchilddomain": false, "isdefault": true,
    });
    if let Some(k) = &u.apikey {
        v["apikey"] = json!(k);
    }
    v
}

/// Filter objects by every request parameter that names one of their fields.
fn filtered(state: &State, kind: &str, call: &Call) -> Vec<Value> {
    const IGNORED: [&str; 13] =
        ["command", "response", "apikey", "signature", "signatureversion", "expires", "sessionkey", "page", "pagesize", "listall", "keyword", "details", "templatefilter"];
    state
        .list(kind)
        .iter()
        .filter(|o| {
            call.p.iter().filter(|(k, _)| !IGNORED.contains(&k.as_str())).all(|(k, v)| match o.get(k) {
                None => true,
                Some(Value::String(s)) => s == v,
                Some(Value::Bool(b)) => b.to_string() == *v,
                Some(other) => v.as_str() == other.to_string().as_str(),
            })
        })
        .cloned()
        .collect()
}

/// Queue an async job whose result is `result`; the answer carries its job id (and the new object's id).
fn async_job(state: &mut State, sim: &Simulator, call: &Call, user: &UserRec, result: Value, new_id: Option<&str>) -> Response {
    let jobid = uuid();
    let polls = sim.config.job_polls;
    state.jobs.insert(
        jobid.clone(),
        Job {
            jobid: jobid.clone(),
            cmd: format!("org.apache.cloudstack.api.command.admin.{}", call.command),
            userid: user.id.clone(),
            status: if polls == 0 { 1 } else { 0 },
            polls_left: polls,
            result: no_nulls(result),
            resultcode: 0,
            instancetype: String::new(),
            instanceid: new_id.unwrap_or_default().to_string(),
        },
    );
    let mut inner = json!({"jobid": jobid});
    if let Some(id) = new_id {
        inner["id"] = json!(id);
    }
    ok(call.command, inner)
}

fn ip_num(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

fn run(sim: &Simulator, state: &mut State, call: &Call, user: &UserRec) -> Answer {
    let c = call.command;
    let zone_of = |state: &State, call: &Call| call.object(state, "zoneid", "zone");
    match c {
        "listCapabilities" => Ok(ok(c, json!({"capability": {"cloudstackversion": "4.22.0.0-simulator", "apilimitmax": 25, "securitygroupsenabled": true, "userpublictemplateenabled": true}}))),
        "queryAsyncJobResult" => {
            let id = call.need("jobid")?;
            let job = state.jobs.get_mut(id).ok_or_else(|| call.invalid("jobid", id))?;
            if job.polls_left > 0 {
                job.polls_left -= 1;
            }
            let status = if job.polls_left > 0 { 0 } else if job.resultcode != 0 { 2 } else { 1 };
            job.status = status;
            let mut inner = json!({
                "accountid": user.accountid, "userid": job.userid, "cmd": job.cmd, "jobstatus": status,
                "jobprocstatus": 0, "jobresultcode": if status == 2 { 530 } else { 0 }, "jobid": job.jobid,
                "created": sim.config.now().format("%Y-%m-%dT%H:%M:%S%z").to_string(),
            });
            if status != 0 {
                inner["jobresulttype"] = json!("object");
                inner["jobresult"] = job.result.clone();
            }
            Ok(ok(c, inner))
        }
        // Users and keys.
        "listUsers" => {
            let users: Vec<Value> = state
                .users
                .iter()
                .filter(|u| call.get("username").is_none_or(|n| n == u.username) && call.get("id").is_none_or(|i| i == u.id))
                .map(user_json)
                .collect();
            Ok(list(c, "user", users))
        }
        "updateUser" => {
            let id = call.need("id")?.to_string();
            let u = state.users.iter_mut().find(|u| u.id == id).ok_or_else(|| call.invalid("id", &id))?;
            if let Some(pw) = call.p.get("password") {
                if pw.is_empty() {
                    return Err(error(c, 431, "Password cannot be empty"));
                }
                u.password = pw.clone();
            }
            Ok(ok(c, json!({"user": user_json(u)})))
        }
        "registerUserKeys" => {
            let id = call.need("id")?.to_string();
            let u = state.users.iter_mut().find(|u| u.id == id).ok_or_else(|| call.invalid("id", &id))?;
            let (k, s) = (random_key(), random_key());
            u.apikey = Some(k.clone());
            u.secretkey = Some(s.clone());
            let keys = json!({"userkeys": {"apikey": k, "secretkey": s}});
            // From 4.23 the keys come as the result of an async job.
            if sim.config.at_least("4.23") {
                return Ok(async_job(state, sim, call, user, keys, None));
            }
            Ok(ok(c, keys))
        }
        "getUserKeys" => {
            let id = call.need("id")?.to_string();
            let u = state.users.iter().find(|u| u.id == id).ok_or_else(|| call.invalid("id", &id))?;
            match (&u.apikey, &u.secretkey) {
                (Some(k), Some(s)) => Ok(ok(c, json!({"userkeys": {"apikey": k, "secretkey": s}}))),
                _ => Ok(ok(c, json!({}))),
            }
        }
        // Zones.
        "listZones" => Ok(list(c, "zone", filtered(state, "zone", call))),
        "createZone" => {
            let name = call.need("name")?.to_string();
            let nt = call.need("networktype")?.to_string();
            call.need("dns1")?;
            call.need("internaldns1")?;
            if nt != "Basic" && nt != "Advanced" {
                return Err(error(c, 431, "Invalid network type"));
            }
            if state.list("zone").iter().any(|z| z["name"] == name.as_str()) {
                return Err(error(c, 431, "A zone with that name already exists. Please specify a unique zone name."));
            }
            let sg = call.get("securitygroupenabled") == Some("true") || nt == "Basic";
            let zone = json!({
                "id": uuid(), "name": name, "networktype": nt, "securitygroupsenabled": sg, "allocationstate": "Disabled",
                "dns1": call.get("dns1"), "dns2": call.get("dns2"), "internaldns1": call.get("internaldns1"),
                "internaldns2": call.get("internaldns2"), "guestcidraddress": if nt == "Advanced" { call.get("guestcidraddress").unwrap_or("10.1.1.0/24") } else { "" },
                "localstorageenabled": false, "zonetoken": uuid(), "dhcpprovider": "VirtualRouter", "tags": [],
            });
            state.push("zone", zone.clone());
            Ok(ok(c, json!({"zone": zone})))
        }
        "updateZone" => {
            let z = call.object(state, "id", "zone")?;
            let id = z["id"].as_str().unwrap_or_default().to_string();
            let zone = state.find_mut("zone", &id).expect("found above");
            if let Some(a) = call.get("allocationstate") {
                zone["allocationstate"] = json!(a);
            }
            let zone = zone.clone();
            spawn_system_vms(state, &id);
            Ok(ok(c, json!({"zone": zone})))
        }
        // Physical networks, traffic types, providers.
        "listPhysicalNetworks" => Ok(list(c, "physicalnetwork", filtered(state, "physicalnetwork", call))),
        "createPhysicalNetwork" => {
            let zone = zone_of(state, call)?;
            let name = call.need("name")?.to_string();
            let id = uuid();
            let pn = json!({
                "id": id, "name": name, "zoneid": zone["id"], "zonename": zone["name"], "state": "Disabled",
                "isolationmethods": call.get("isolationmethods").unwrap_or("VLAN"), "vlan": call.get("vlan").unwrap_or_default(),
                "broadcastdomainrange": if zone["networktype"] == "Basic" { "POD" } else { "ZONE" },
            });
            state.push("physicalnetwork", pn.clone());
            let mut providers = vec!["VirtualRouter", "VpcVirtualRouter", "InternalLbVm", "ConfigDrive"];
            if zone["securitygroupsenabled"] == true {
                providers.push("SecurityGroupProvider");
            }
            for name in providers {
                let nsp = uuid();
                state.push("networkserviceprovider", json!({"id": nsp, "name": name, "physicalnetworkid": id, "state": "Disabled", "canenableindividualservice": true, "servicelist": []}));
                match name {
                    "VirtualRouter" | "VpcVirtualRouter" => state.push("virtualrouterelement", json!({"id": uuid(), "nspid": nsp, "enabled": false, "providertype": name})),
                    "InternalLbVm" => state.push("internalloadbalancerelement", json!({"id": uuid(), "nspid": nsp, "enabled": false})),
                    _ => {}
                }
            }
            Ok(async_job(state, sim, call, user, json!({"physicalnetwork": pn}), Some(&id)))
        }
        "updatePhysicalNetwork" => {
            let pn = call.object(state, "id", "physicalnetwork")?;
            let id = pn["id"].as_str().unwrap_or_default().to_string();
            let o = state.find_mut("physicalnetwork", &id).expect("found above");
            if let Some(s) = call.get("state") {
                o["state"] = json!(s);
            }
            if let Some(v) = call.get("vlan") {
                o["vlan"] = json!(v);
            }
            let o = o.clone();
            Ok(async_job(state, sim, call, user, json!({"physicalnetwork": o}), None))
        }
        "listTrafficTypes" => {
            call.object(state, "physicalnetworkid", "physicalnetwork")?;
            Ok(list(c, "traffictype", filtered(state, "traffictype", call)))
        }
        "addTrafficType" => {
            let pn = call.object(state, "physicalnetworkid", "physicalnetwork")?;
            let t = call.need("traffictype")?.to_string();
            if !["Guest", "Management", "Public", "Storage"].contains(&t.as_str()) {
                return Err(error(c, 431, &format!("Invalid traffic type {t}")));
            }
            if state.list("traffictype").iter().any(|x| x["physicalnetworkid"] == pn["id"] && x["traffictype"] == t.as_str()) {
                return Err(error(c, 431, &format!("This physical network already has traffic type {t}: it already exists")));
            }
            let id = uuid();
            let tt = json!({"id": id, "traffictype": t, "physicalnetworkid": pn["id"], "kvmnetworklabel": call.get("kvmnetworklabel")});
            state.push("traffictype", tt.clone());
            Ok(async_job(state, sim, call, user, json!({"traffictype": tt}), Some(&id)))
        }
        "listNetworkServiceProviders" => Ok(list(c, "networkserviceprovider", filtered(state, "networkserviceprovider", call))),
        "listVirtualRouterElements" => Ok(list(c, "virtualrouterelement", filtered(state, "virtualrouterelement", call))),
        "listInternalLoadBalancerElements" => Ok(list(c, "internalloadbalancerelement", filtered(state, "internalloadbalancerelement", call))),
        "configureVirtualRouterElement" | "configureInternalLoadBalancerElement" => {
            let kind = if c == "configureVirtualRouterElement" { "virtualrouterelement" } else { "internalloadbalancerelement" };
            let e = call.object(state, "id", kind)?;
            let enabled = call.need("enabled")? == "true";
            let o = state.find_mut(kind, e["id"].as_str().unwrap_or_default()).expect("found above");
            o["enabled"] = json!(enabled);
            let o = o.clone();
            Ok(async_job(state, sim, call, user, json!({ kind: o }), None))
        }
        "updateNetworkServiceProvider" => {
            let nsp = call.object(state, "id", "networkserviceprovider")?;
            let nid = nsp["id"].as_str().unwrap_or_default().to_string();
            if call.get("state") == Some("Enabled") {
                let element_ready = match nsp["name"].as_str() {
                    Some("VirtualRouter" | "VpcVirtualRouter") => state.list("virtualrouterelement").iter().any(|e| e["nspid"] == nid.as_str() && e["enabled"] == true),
                    Some("InternalLbVm") => state.list("internalloadbalancerelement").iter().any(|e| e["nspid"] == nid.as_str() && e["enabled"] == true),
                    _ => true,
                };
                if !element_ready {
                    return Err(error(c, 431, "Provider is not ready, cannot Enable the provider, please configure the provider first"));
                }
            }
            let o = state.find_mut("networkserviceprovider", &nid).expect("found above");
            if let Some(s) = call.get("state") {
                o["state"] = json!(s);
            }
            let o = o.clone();
            Ok(async_job(state, sim, call, user, json!({"networkserviceprovider": o}), None))
        }
        // Networks.
        "listNetworkOfferings" => Ok(list(c, "networkoffering", filtered(state, "networkoffering", call))),
        "listNetworks" => Ok(list(c, "network", filtered(state, "network", call))),
        "createNetwork" => {
            let zone = zone_of(state, call)?;
            let off = call.object(state, "networkofferingid", "networkoffering")?;
            let name = call.need("name")?;
            let n = json!({
                "id": uuid(), "name": name, "displaytext": call.get("displaytext").unwrap_or(name), "zoneid": zone["id"],
                "networkofferingid": off["id"], "networkofferingname": off["name"], "type": "Shared", "state": "Setup",
                "traffictype": "Guest", "acltype": "Domain",
            });
            state.push("network", n.clone());
            Ok(ok(c, json!({"network": n})))
        }
        // Pods and IP ranges.
        "listPods" => Ok(list(c, "pod", filtered(state, "pod", call))),
        "createPod" => {
            let zone = zone_of(state, call)?;
            let name = call.need("name")?.to_string();
            let (gw, nm, start) = (call.need("gateway")?.to_string(), call.need("netmask")?.to_string(), call.need("startip")?.to_string());
            let end = call.get("endip").unwrap_or(&start).to_string();
            if zone["networktype"] == "Advanced" {
                let cidr = zone["guestcidraddress"].as_str().unwrap_or("10.1.1.0/24").to_string();
                if let (Some((lo, hi)), Some(s), Some(e)) = (cidr_bounds(&cidr), ip_num(&start), ip_num(&end)) {
                    if s <= hi && lo <= e {
                        return Err(error(c, 431, &format!("The pod's IP range {start}-{end} overlaps the zone's guest CIDR {cidr}; please specify a different range")));
                    }
                }
            }
            if state.list("pod").iter().any(|p| p["zoneid"] == zone["id"] && p["name"] == name.as_str()) {
                return Err(error(c, 431, &format!("A pod with name: {name} already exists in zone {}. Please specify a different pod name.", zone["name"].as_str().unwrap_or_default())));
            }
            let pod = json!({
                "id": uuid(), "name": name, "zoneid": zone["id"], "zonename": zone["name"], "gateway": gw, "netmask": nm,
                "startip": [start], "endip": [end], "allocationstate": "Enabled",
            });
            state.push("pod", pod.clone());
            Ok(ok(c, json!({"pod": pod})))
        }
        "listVlanIpRanges" => Ok(list(c, "vlaniprange", filtered(state, "vlaniprange", call))),
        "createVlanIpRange" => {
            let (gw, nm, start) = (call.need("gateway")?.to_string(), call.need("netmask")?.to_string(), call.need("startip")?.to_string());
            let end = call.get("endip").unwrap_or(&start).to_string();
            let (Some(s), Some(e)) = (ip_num(&start), ip_num(&end)) else {
                return Err(error(c, 431, "Please specify a valid IPv4 start and end IP"));
            };
            let (zoneid, podid, networkid) = if let Some(podid) = call.get("podid") {
                let pod = call.object(state, "podid", "pod")?;
                let network = call.object(state, "networkid", "network")?;
                (pod["zoneid"].clone(), json!(podid), network["id"].clone())
            } else {
                let zone = zone_of(state, call)?;
                (zone["id"].clone(), Value::Null, Value::Null)
            };
            let overlap = state.list("vlaniprange").iter().filter(|r| r["zoneid"] == zoneid).any(|r| {
                let (rs, re) = (ip_num(r["startip"].as_str().unwrap_or_default()), ip_num(r["endip"].as_str().unwrap_or_default()));
                matches!((rs, re), (Some(rs), Some(re)) if s <= re && rs <= e)
            });
            if overlap {
                return Err(error(c, 431, "The IP range already has IPs that overlap with the new range. Please specify a different start IP/end IP."));
            }
            let pn = state.list("physicalnetwork").iter().find(|p| p["zoneid"] == zoneid).map(|p| p["id"].clone()).unwrap_or(Value::Null);
            let r = json!({
                "id": uuid(), "zoneid": zoneid, "podid": podid, "networkid": networkid, "physicalnetworkid": pn,
                "vlan": call.get("vlan").map(|v| if v.starts_with("vlan://") { v.to_string() } else { format!("vlan://{v}") }).unwrap_or("vlan://untagged".into()),
                "gateway": gw, "netmask": nm, "startip": start, "endip": end,
                "forvirtualnetwork": call.get("forvirtualnetwork") == Some("true"), "forsystemvms": false,
            });
            state.push("vlaniprange", r.clone());
            Ok(ok(c, json!({"vlan": r})))
        }
        // Clusters and hosts.
        "listClusters" => Ok(list(c, "cluster", filtered(state, "cluster", call))),
        "addCluster" => {
            let zone = zone_of(state, call)?;
            let pod = call.object(state, "podid", "pod")?;
            let name = call.need("clustername")?.to_string();
            let hv = call.need("hypervisor")?.to_string();
            call.need("clustertype")?;
            if state.list("cluster").iter().any(|x| x["podid"] == pod["id"] && x["name"] == name.as_str()) {
                return Err(error(c, 530, &format!("Cluster: {name} already exists")));
            }
            let cl = json!({
                "id": uuid(), "name": name, "podid": pod["id"], "podname": pod["name"], "zoneid": zone["id"], "zonename": zone["name"],
                "hypervisortype": hv, "clustertype": call.get("clustertype"), "allocationstate": "Enabled", "managedstate": "Managed",
            });
            state.push("cluster", cl.clone());
            Ok(ok(c, json!({"count": 1, "cluster": [cl]})))
        }
        "listHosts" => {
            let up_after = sim.config.host_up_polls;
            if let Some(hosts) = state.objects.get_mut("host") {
                for h in hosts.iter_mut() {
                    let polls = h["polls"].as_u64().unwrap_or(0) + 1;
                    h["polls"] = json!(polls);
                    if polls >= up_after as u64 && h["state"] == "Connecting" {
                        h["state"] = json!("Up");
                    }
                }
            }
            let zones: Vec<String> = state.list("zone").iter().filter_map(|z| z["id"].as_str().map(String::from)).collect();
            for z in zones {
                spawn_system_vms(state, &z);
            }
            let items = filtered(state, "host", call).into_iter().map(strip_internal).collect();
            Ok(list(c, "host", items))
        }
        "addHost" => {
            let zone = zone_of(state, call)?;
            let pod = call.object(state, "podid", "pod")?;
            let cluster = call.object(state, "clusterid", "cluster")?;
            let url = call.need("url")?.to_string();
            call.need("hypervisor")?;
            call.need("username")?;
            call.need("password")?;
            let ip = url.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/').to_string();
            if state.list("host").iter().any(|h| h["ipaddress"] == ip.as_str()) {
                return Err(error(c, 530, &format!("Skipping host {ip} because {ip} is already in the database for resource {}", uuid())));
            }
            let state_now = if sim.config.host_up_polls == 0 { "Up" } else { "Connecting" };
            let h = json!({
                "id": uuid(), "name": ip, "ipaddress": ip, "type": "Routing", "state": state_now, "resourcestate": "Enabled",
                "zoneid": zone["id"], "zonename": zone["name"], "podid": pod["id"], "podname": pod["name"],
                "clusterid": cluster["id"], "clustername": cluster["name"], "hypervisor": call.get("hypervisor"), "polls": 0,
            });
            state.push("host", h.clone());
            Ok(ok(c, json!({"count": 1, "host": [strip_internal(h)]})))
        }
        // Storage.
        "listStoragePools" => Ok(list(c, "storagepool", filtered(state, "storagepool", call))),
        "createStoragePool" => {
            let zone = zone_of(state, call)?;
            let name = call.need("name")?.to_string();
            let url = call.need("url")?.to_string();
            if state.list("storagepool").iter().any(|s| s["url"] == url.as_str() && s["zoneid"] == zone["id"]) {
                return Err(error(c, 530, &format!("Storage pool {url} already in use by another pod (id=1)")));
            }
            let (host, path) = split_nfs(&url).ok_or_else(|| error(c, 431, &format!("{url} is not a valid uri")))?;
            let cluster = call.get("clusterid").and_then(|id| state.find("cluster", id)).cloned();
            // As the real server: attaching a cluster-wide pool needs a host Up in the cluster to mount it.
            let scope = call.get("scope").unwrap_or("cluster").to_ascii_lowercase();
            if scope == "cluster" && call.get("clusterid").is_none() {
                return Err(error(c, 431, "Cluster id is required when the storage pool's scope is cluster"));
            }
            if let (Some(cl), "cluster") = (&cluster, scope.as_str()) {
                if !state.list("host").iter().any(|h| h["clusterid"] == cl["id"] && h["state"] == "Up") {
                    return Err(error(c, 530, &format!("No host up to associate a storage pool with in cluster {}", cl["id"].as_str().unwrap_or_default())));
                }
            }
            let sp = json!({
                "id": uuid(), "name": name, "zoneid": zone["id"], "zonename": zone["name"], "podid": call.get("podid"),
                "clusterid": cluster.as_ref().map(|c| c["id"].clone()), "type": "NetworkFilesystem", "ipaddress": host,
                "path": path, "url": url, "state": "Up", "scope": call.get("scope").unwrap_or("CLUSTER").to_ascii_uppercase(),
            });
            state.push("storagepool", sp.clone());
            spawn_system_vms(state, zone["id"].as_str().unwrap_or_default());
            Ok(ok(c, json!({"storagepool": strip_url(sp)})))
        }
        "listImageStores" => Ok(list(c, "imagestore", filtered(state, "imagestore", call))),
        "addImageStore" => {
            let provider = call.need("provider")?.to_string();
            let zone = zone_of(state, call)?;
            let url = call.need("url")?.to_string();
            if state.list("imagestore").iter().any(|s| s["url"] == url.as_str()) {
                return Err(error(c, 530, &format!("An image store with url {url} already exists")));
            }
            let name = call.get("name").unwrap_or(&url).to_string();
            let st = json!({"id": uuid(), "name": name, "zoneid": zone["id"], "zonename": zone["name"], "url": url, "providername": provider, "protocol": "nfs", "scope": "ZONE", "readonly": false});
            state.push("imagestore", st.clone());
            let zid = zone["id"].as_str().unwrap_or_default().to_string();
            if state.list("imagestore").iter().filter(|s| s["zoneid"] == zid.as_str()).count() == 1 {
                register_templates(sim, state, &zid, !sim.config.template_copy_fails);
            }
            spawn_system_vms(state, &zid);
            Ok(ok(c, json!({"imagestore": st})))
        }
        "listTemplates" => {
            call.need("templatefilter")?;
            Ok(list(c, "template", filtered(state, "template", call)))
        }
        "listSystemVms" => {
            let after = sim.config.systemvm_polls as u64;
            if let Some(vms) = state.objects.get_mut("systemvm") {
                for v in vms.iter_mut() {
                    let polls = v["polls"].as_u64().unwrap_or(0) + 1;
                    v["polls"] = json!(polls);
                    if polls >= after {
                        v["state"] = json!("Running");
                    }
                }
            }
            let items = filtered(state, "systemvm", call).into_iter().map(strip_internal).collect();
            Ok(list(c, "systemvm", items))
        }
        _ => Err(error("", 432, &format!("The given command '{c}' either does not exist, is not available for user."))),
    }
}

fn cidr_bounds(cidr: &str) -> Option<(u32, u32)> {
    let (a, p) = cidr.split_once('/')?;
    let (a, p) = (ip_num(a)?, p.parse::<u32>().ok().filter(|p| *p <= 32)?);
    let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
    Some((a & mask, (a & mask) | !mask))
}

/// The system VM template of each hypervisor the zone's clusters have. From 4.20 the server copies its bundled
/// template into the first image store, for the clusters that exist at that moment; a copy that fails is only
/// logged. Before 4.20 the template was seeded onto the export beforehand (cloudstrap's template step).
pub fn register_templates(sim: &Simulator, state: &mut State, zoneid: &str, copied: bool) {
    let bundled = sim.config.at_least("4.20");
    let mut hypervisors: Vec<String> = state.list("cluster").iter().filter(|c| c["zoneid"] == zoneid).filter_map(|c| c["hypervisortype"].as_str().map(String::from)).collect();
    if !bundled {
        hypervisors = vec!["KVM".into()];
    }
    hypervisors.dedup();
    for hv in hypervisors {
        if state.list("template").iter().any(|t| t["zoneid"] == zoneid && t["hypervisor"] == hv.as_str()) {
            continue;
        }
        let name = format!("systemvm-{}-{}", hv.to_ascii_lowercase(), sim.config.version);
        if !copied {
            sim.log_line(format!("ERROR [o.a.c.s.i.SystemVmTemplateRegistration] Failed to register the {name} template on image store of zone {zoneid}: copy failed: mount or write error on the secondary storage"));
        }
        state.push(
            "template",
            json!({"id": uuid(), "name": name, "zoneid": zoneid, "hypervisor": hv, "templatetype": "SYSTEM", "isready": copied,
                   "status": if copied { "Download Complete" } else { "" }}),
        );
    }
}

fn split_nfs(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("nfs://")?;
    let (host, path) = rest.split_once('/')?;
    Some((host.to_string(), format!("/{path}")))
}

/// Bookkeeping fields the real server does not show.
fn strip_internal(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("polls");
    }
    v
}

fn strip_url(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("url");
    }
    v
}

/// Once a zone is enabled and has secondary storage, primary storage and an Up host, the management
/// server starts its two system VMs (secondary storage VM, console proxy).
fn spawn_system_vms(state: &mut State, zoneid: &str) {
    let Some(zone) = state.find("zone", zoneid) else { return };
    let ready = zone["allocationstate"] == "Enabled"
        && state.list("imagestore").iter().any(|s| s["zoneid"] == zoneid)
        && state.list("template").iter().any(|t| t["zoneid"] == zoneid && t["hypervisor"] == "KVM" && t["isready"] == true)
        && state.list("storagepool").iter().any(|s| s["zoneid"] == zoneid)
        && state.list("host").iter().any(|h| h["zoneid"] == zoneid && h["state"] == "Up");
    if !ready || state.list("systemvm").iter().any(|v| v["zoneid"] == zoneid) {
        return;
    }
    for (n, t) in [("s", "secondarystoragevm"), ("v", "consoleproxy")] {
        let id = uuid();
        let num = state.list("systemvm").len() + 1;
        state.push("systemvm", json!({"id": id, "name": format!("{n}-{num}-VM"), "systemvmtype": t, "zoneid": zoneid, "state": "Starting", "polls": 0}));
    }
}

