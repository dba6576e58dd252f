//! Services: unique cluster IPs (10.96.0.0/12) and node ports tracked from the stored services, and validation.

use std::{
    collections::HashMap,
    net::Ipv4Addr,
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{
    object::{at, existing_mut, int_at, list_at, str_at},
    validation::{dns1123_label, dns1123_subdomain, labels, port_number, port_number_or_name},
};
use crate::{
    machinery::{FieldError, options::ListOptions},
    registry::{Registry, WatchEventType},
};

/// The service cluster IP range.
const NETWORK: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const NETWORK_BITS: u32 = 12;
const RANGE_TEXT: &str = "10.96.0.0/12";
/// Dynamic allocation uses the upper band; the first 256 addresses are left for static assignment.
const STATIC_BAND: u32 = 256;
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;
/// How long an allocation made for a request that was never stored keeps its address.
const PENDING_FOR: Duration = Duration::from_secs(30);

/// A service's identity: its uid, or `namespace/name` before it has one.
fn owner_of(service: &Value) -> String {
    match str_at(service, &["metadata", "uid"]) {
        "" => format!("{}/{}", str_at(service, &["metadata", "namespace"]), str_at(service, &["metadata", "name"])),
        uid => uid.to_string(),
    }
}

struct Book<K> {
    stored: HashMap<K, String>,
    pending: HashMap<K, (String, Instant)>,
}

impl<K> Default for Book<K> {
    fn default() -> Self {
        Self { stored: HashMap::new(), pending: HashMap::new() }
    }
}

impl<K: std::hash::Hash + Eq + Copy> Book<K> {
    fn holder(&self, key: K) -> Option<&str> {
        self.stored.get(&key).map(String::as_str).or_else(|| {
            self.pending.get(&key).filter(|(_, at)| at.elapsed() < PENDING_FOR).map(|(owner, _)| owner.as_str())
        })
    }

    fn free_for(&self, key: K, owner: &str) -> bool {
        self.holder(key).is_none_or(|holder| holder == owner)
    }

    fn reserve(&mut self, key: K, owner: &str) {
        self.pending.insert(key, (owner.to_string(), Instant::now()));
    }

    fn replace_owner(&mut self, owner: &str, keys: impl IntoIterator<Item = K>) {
        self.stored.retain(|_, holder| holder != owner);
        for key in keys {
            self.pending.remove(&key);
            self.stored.insert(key, owner.to_string());
        }
    }
}

/// Cluster IPs and node ports in use, by owning service.
#[derive(Default)]
pub(crate) struct Allocator {
    ips: Mutex<Book<Ipv4Addr>>,
    ports: Mutex<Book<i64>>,
}

fn in_range(ip: Ipv4Addr) -> bool {
    u32::from(ip) >> (32 - NETWORK_BITS) == NETWORK >> (32 - NETWORK_BITS)
}

impl Allocator {
    /// Picks a free cluster IP for `owner` and reserves it.
    fn allocate_ip(&self, owner: &str) -> Option<Ipv4Addr> {
        let size = 1u32 << (32 - NETWORK_BITS);
        let mut book = self.ips.lock();
        let start = fastrand::u32(STATIC_BAND..size - 1);
        let candidates = (start..size - 1).chain(STATIC_BAND..start).chain(1..STATIC_BAND);
        let ip = candidates.map(|offset| Ipv4Addr::from(NETWORK + offset)).find(|ip| book.holder(*ip).is_none())?;
        book.reserve(ip, owner);
        Some(ip)
    }

    /// Picks a free node port for `owner` and reserves it.
    fn allocate_port(&self, owner: &str) -> Option<i64> {
        let mut book = self.ports.lock();
        let start = fastrand::i64(NODE_PORTS);
        let candidates = (start..=*NODE_PORTS.end()).chain(*NODE_PORTS.start()..start);
        let port = candidates.into_iter().find(|port| book.holder(*port).is_none())?;
        book.reserve(port, owner);
        Some(port)
    }

    /// Records what a stored service holds (replacing what it held before).
    fn stored(&self, service: &Value) {
        let owner = owner_of(service);
        self.ips.lock().replace_owner(&owner, cluster_ips(service));
        self.ports.lock().replace_owner(&owner, node_ports(service));
    }

    /// Releases what a deleted service held.
    fn deleted(&self, service: &Value) {
        let owner = owner_of(service);
        self.ips.lock().replace_owner(&owner, []);
        self.ports.lock().replace_owner(&owner, []);
    }

    /// Follows the stored services (list, then watch; relists after any interruption) while the registry lives.
    pub(crate) fn track(self: &Arc<Self>, registry: &Registry) {
        let allocator = Arc::downgrade(self);
        let registry = registry.clone();
        tokio::spawn(async move { track(allocator, registry).await });
    }
}

async fn track(allocator: Weak<Allocator>, registry: Registry) {
    loop {
        if allocator.strong_count() == 0 {
            return;
        }
        if let Some(services) = registry.lookup("", "v1", "services")
            && let Ok(list) = services.list(None, &ListOptions::default()).await
        {
            {
                let Some(book) = allocator.upgrade() else { return };
                list.items.iter().for_each(|service| book.stored(service));
                drop(book);
                let options = ListOptions {
                    resource_version: list.resource_version,
                    watch: true,
                    allow_watch_bookmarks: true,
                    ..ListOptions::default()
                };
                if let Ok(mut events) = services.watch(None, &options).await {
                    while let Some(event) = events.next().await {
                        let Some(book) = allocator.upgrade() else { return };
                        match event.type_ {
                            WatchEventType::Added | WatchEventType::Modified => book.stored(&event.object),
                            WatchEventType::Deleted => book.deleted(&event.object),
                            WatchEventType::Bookmark => {}
                            WatchEventType::Error => break,
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn cluster_ips(service: &Value) -> Vec<Ipv4Addr> {
    list_at(service, &["spec", "clusterIPs"])
        .iter()
        .filter_map(Value::as_str)
        .chain(Some(str_at(service, &["spec", "clusterIP"])))
        .filter_map(|ip| ip.parse().ok())
        .collect()
}

fn node_ports(service: &Value) -> Vec<i64> {
    list_at(service, &["spec", "ports"]).iter().map(|p| int_at(p, &["nodePort"])).filter(|p| *p > 0).collect()
}

fn kind(service: &Value) -> &str {
    str_at(service, &["spec", "type"])
}

fn needs_cluster_ip(service: &Value) -> bool {
    kind(service) != "ExternalName"
}

fn needs_node_ports(service: &Value) -> bool {
    match kind(service) {
        "NodePort" => true,
        "LoadBalancer" => {
            at(service, &["spec", "allocateLoadBalancerNodePorts"]).and_then(Value::as_bool) != Some(false)
        }
        _ => false,
    }
}

fn selectorless(service: &Value) -> bool {
    at(service, &["spec", "selector"]).and_then(Value::as_object).is_none_or(|s| s.is_empty())
}

fn is_headless(service: &Value) -> bool {
    str_at(service, &["spec", "clusterIP"]) == "None"
}

/// IP families and policy of a single-stack IPv4 cluster; headless services without selector ask for both.
fn ip_families(service: &mut Value) {
    let dual = is_headless(service) && selectorless(service);
    let Some(spec) = existing_mut(service, &["spec"]) else { return };
    let (policy, families) =
        if dual { ("RequireDualStack", json!(["IPv4", "IPv6"])) } else { ("SingleStack", json!(["IPv4"])) };
    super::object::default_field(spec, "ipFamilyPolicy", json!(policy));
    let families_unset = spec.get("ipFamilies").and_then(Value::as_array).is_none_or(|f| f.is_empty());
    if families_unset {
        spec.insert("ipFamilies".into(), families);
    }
}

impl Allocator {
    /// Allocation on create: a cluster IP, node ports, families; an empty load balancer status.
    pub(crate) fn prepare_create(&self, service: &mut Value) {
        if let Some(map) = service.as_object_mut() {
            map.insert("status".into(), json!({"loadBalancer": {}}));
        }
        self.allocate(service, None);
    }

    /// On update the allocated values carry over from the stored service; new ports get node ports.
    pub(crate) fn prepare_update(&self, service: &mut Value, old: &Value) {
        let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
        let keeps_ip = needs_cluster_ip(service) && needs_cluster_ip(old);
        let drops_ip = !needs_cluster_ip(service) && needs_cluster_ip(old);
        let keeps_ports = needs_node_ports(service) && needs_node_ports(old);
        let drops_ports = !needs_node_ports(service) && needs_node_ports(old) && kind(service) == "ClusterIP";
        let Some(spec) = existing_mut(service, &["spec"]) else { return };
        let unset = |value: Option<&Value>| match value {
            None | Some(Value::Null) => true,
            Some(Value::String(text)) => text.is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            Some(_) => false,
        };
        let allocated = ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"];
        if keeps_ip && unset(spec.get("clusterIP")) {
            for key in allocated {
                if unset(spec.get(key)) && !unset(old_spec.get(key)) {
                    spec.insert(key.into(), old_spec[key].clone());
                }
            }
        }
        if drops_ip && spec.get("clusterIP") == old_spec.get("clusterIP") {
            allocated.iter().for_each(|key| {
                spec.remove(*key);
            });
        }
        let old_ports = list_at(&old_spec, &["ports"]);
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut() {
                if drops_ports {
                    if let Some(port) = port.as_object_mut() {
                        port.remove("nodePort");
                    }
                    continue;
                }
                let same = |o: &&Value| {
                    int_at(o, &["port"]) == int_at(port, &["port"])
                        && str_at(o, &["protocol"]) == str_at(port, &["protocol"])
                };
                let previous = old_ports.iter().find(same).map(|o| int_at(o, &["nodePort"])).filter(|p| *p > 0);
                if let Some(node_port) = previous.filter(|_| keeps_ports && int_at(port, &["nodePort"]) == 0)
                    && let Some(port) = port.as_object_mut()
                {
                    port.insert("nodePort".into(), json!(node_port));
                }
            }
        }
        self.allocate(service, Some(old));
    }

    fn allocate(&self, service: &mut Value, old: Option<&Value>) {
        let owner = owner_of(service);
        if needs_cluster_ip(service) {
            let requested = str_at(service, &["spec", "clusterIP"]).to_string();
            let first_of_list =
                list_at(service, &["spec", "clusterIPs"]).first().and_then(Value::as_str).map(str::to_string);
            let ip = match (requested.is_empty(), first_of_list) {
                (false, _) => Some(requested),
                (true, Some(first)) if !first.is_empty() => Some(first),
                _ if old.is_some_and(needs_cluster_ip) => None,
                _ => self.allocate_ip(&owner).map(|ip| ip.to_string()),
            };
            if let (Some(ip), Some(spec)) = (ip, existing_mut(service, &["spec"])) {
                spec.insert("clusterIP".into(), json!(ip));
                let unset = spec.get("clusterIPs").and_then(Value::as_array).is_none_or(|l| l.is_empty());
                if unset {
                    spec.insert("clusterIPs".into(), json!([ip]));
                }
            }
            ip_families(service);
        }
        if needs_node_ports(service)
            && let Some(ports) =
                existing_mut(service, &["spec"]).and_then(|s| s.get_mut("ports")).and_then(Value::as_array_mut)
        {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                let unset = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0;
                if unset && let Some(node_port) = self.allocate_port(&owner) {
                    port.insert("nodePort".into(), json!(node_port));
                }
            }
        }
    }

    /// Allocation checks: requested cluster IPs inside the range and not held by another service, requested node
    /// ports inside the range and free. Free requested values are reserved for this service.
    fn allocation_errors(&self, service: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let owner = owner_of(service);
        if needs_cluster_ip(service) && !is_headless(service) {
            let unchanged =
                old.is_some_and(|old| at(old, &["spec", "clusterIPs"]) == at(service, &["spec", "clusterIPs"]));
            for text in list_at(service, &["spec", "clusterIPs"]).iter().filter_map(Value::as_str).take(1) {
                let requested = json!(list_at(service, &["spec", "clusterIPs"]));
                let Ok(ip) = text.parse::<Ipv4Addr>() else {
                    let detail = format!("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff): {text:?}");
                    errors.push(FieldError::invalid("spec.clusterIPs[0]", text, detail));
                    continue;
                };
                if unchanged {
                    continue;
                }
                let mut book = self.ips.lock();
                if !in_range(ip) {
                    let detail = format!(
                        "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {RANGE_TEXT}"
                    );
                    errors.push(FieldError::invalid("spec.clusterIPs", requested, detail));
                } else if !book.free_for(ip, &owner) {
                    let detail = format!("failed to allocate IP {ip}: provided IP is already allocated");
                    errors.push(FieldError::invalid("spec.clusterIPs", requested, detail));
                } else {
                    book.reserve(ip, &owner);
                }
            }
        }
        let held: Vec<i64> = old.map(node_ports).unwrap_or_default();
        for (i, port) in list_at(service, &["spec", "ports"]).iter().enumerate() {
            let node_port = int_at(port, &["nodePort"]);
            if node_port == 0 || held.contains(&node_port) || !needs_node_ports(service) {
                continue;
            }
            let mut book = self.ports.lock();
            let path = format!("spec.ports[{i}].nodePort");
            if !NODE_PORTS.contains(&node_port) {
                let detail = format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORTS.start(),
                    NODE_PORTS.end()
                );
                errors.push(FieldError::invalid(path, node_port, detail));
            } else if !book.free_for(node_port, &owner) {
                errors.push(FieldError::invalid(path, node_port, "provided port is already allocated"));
            } else {
                book.reserve(node_port, &owner);
            }
        }
        errors
    }

    /// `ValidateService` plus the allocation checks.
    pub(crate) fn validate(&self, service: &Value) -> Vec<FieldError> {
        let mut errors = validate_service(service);
        errors.extend(self.allocation_errors(service, None));
        errors
    }

    /// `ValidateServiceUpdate`: the primary cluster IP may not change while the service keeps one.
    pub(crate) fn validate_update(&self, service: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = validate_service(service);
        let (new_ip, old_ip) = (str_at(service, &["spec", "clusterIP"]), str_at(old, &["spec", "clusterIP"]));
        if needs_cluster_ip(service) && needs_cluster_ip(old) && !old_ip.is_empty() && new_ip != old_ip {
            errors.push(FieldError::invalid("spec.clusterIPs[0]", new_ip, "may not change once set"));
        }
        errors.extend(self.allocation_errors(service, Some(old)));
        errors
    }
}

/// `ValidateService` without allocation.
pub(crate) fn validate_service(service: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let ports = list_at(service, &["spec", "ports"]);
    let service_type = kind(service);
    if ports.is_empty() && !is_headless(service) && service_type != "ExternalName" {
        errors.push(FieldError::required("spec.ports", ""));
    }
    match service_type {
        "LoadBalancer" | "NodePort" if is_headless(service) => {
            let detail = format!("may not be set to 'None' for {service_type} services");
            errors.push(FieldError::invalid("spec.clusterIPs[0]", "None", detail));
        }
        "ExternalName" => {
            if !list_at(service, &["spec", "clusterIPs"]).is_empty()
                || !str_at(service, &["spec", "clusterIP"]).is_empty()
            {
                errors.push(FieldError::forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
            }
            let cname = str_at(service, &["spec", "externalName"]);
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errors.push(FieldError::required("spec.externalName", ""));
            } else {
                errors.extend(
                    dns1123_subdomain(cname).into_iter().map(|m| FieldError::invalid("spec.externalName", cname, m)),
                );
            }
        }
        _ => {}
    }
    let mut names = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut seen_node_ports = std::collections::BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let here = format!("spec.ports[{i}]");
        let port_name = str_at(port, &["name"]);
        if ports.len() > 1 && port_name.is_empty() {
            errors.push(FieldError::required(format!("{here}.name"), ""));
        } else if !port_name.is_empty() {
            errors.extend(
                dns1123_label(port_name).into_iter().map(|m| FieldError::invalid(format!("{here}.name"), port_name, m)),
            );
            if !names.insert(port_name) {
                errors.push(FieldError::duplicate(format!("{here}.name"), port_name));
            }
        }
        let number = int_at(port, &["port"]);
        errors.extend(port_number(number).into_iter().map(|m| FieldError::invalid(format!("{here}.port"), number, m)));
        let protocol = str_at(port, &["protocol"]);
        if protocol.is_empty() {
            errors.push(FieldError::required(format!("{here}.protocol"), ""));
        } else if !["SCTP", "TCP", "UDP"].contains(&protocol) {
            errors.push(FieldError::not_supported(format!("{here}.protocol"), protocol, &["SCTP", "TCP", "UDP"]));
        }
        errors.extend(port_number_or_name(at(port, &["targetPort"]), &format!("{here}.targetPort")));
        if service_type == "ClusterIP" && int_at(port, &["nodePort"]) != 0 {
            errors
                .push(FieldError::forbidden(format!("{here}.nodePort"), "may not be used when `type` is 'ClusterIP'"));
        }
        let node_port = int_at(port, &["nodePort"]);
        if node_port != 0 && !seen_node_ports.insert((protocol.to_string(), node_port)) {
            errors.push(FieldError::duplicate(format!("{here}.nodePort"), node_port));
        }
        if !seen.insert((protocol.to_string(), number)) {
            errors.push(FieldError::duplicate(here, json!({"port": number, "protocol": protocol})));
        }
    }
    errors.extend(labels(at(service, &["spec", "selector"]), "spec.selector"));
    let affinity = str_at(service, &["spec", "sessionAffinity"]);
    if affinity.is_empty() {
        errors.push(FieldError::required("spec.sessionAffinity", ""));
    } else if affinity != "ClientIP" && affinity != "None" {
        errors.push(FieldError::not_supported("spec.sessionAffinity", affinity, &["ClientIP", "None"]));
    }
    let types = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if service_type.is_empty() {
        errors.push(FieldError::required("spec.type", ""));
    } else if !types.contains(&service_type) {
        errors.push(FieldError::not_supported("spec.type", service_type, types));
    }
    let policy = str_at(service, &["spec", "ipFamilyPolicy"]);
    if policy == "RequireDualStack" && !(is_headless(service) && selectorless(service)) {
        let detail = "this cluster is not configured for dual-stack services";
        errors.push(FieldError::invalid("spec.ipFamilyPolicy", policy, detail));
    }
    for (i, family) in list_at(service, &["spec", "ipFamilies"]).iter().enumerate() {
        let family = family.as_str().unwrap_or_default();
        if family == "IPv6" && !(is_headless(service) && policy == "RequireDualStack") {
            errors.push(FieldError::invalid(format!("spec.ipFamilies[{i}]"), family, "not configured on this cluster"));
        } else if family != "IPv4" && family != "IPv6" {
            errors.push(FieldError::not_supported(format!("spec.ipFamilies[{i}]"), family, &["IPv4", "IPv6"]));
        }
    }
    errors
}
