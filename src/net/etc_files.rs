//! /etc/hosts, /etc/hostname and /etc/resolv.conf for a container (pure).

use std::net::Ipv4Addr;

use crate::spec::container::{Network, NetworkOptions};

/// slirp4netns's fixed addresses (its default 10.0.2.0/24 network).
pub const SLIRP_CONTAINER_IP: &str = "10.0.2.100";
pub const SLIRP_HOST_IP: &str = "10.0.2.2";
pub const SLIRP_DNS_IP: &str = "10.0.2.3";

/// The container's /etc/hosts: localhost, its own name, and `--add-host` entries. On user
/// networks `own_ip` is its address on the first one (known once it is attached).
pub fn hosts(
    hostname: &str,
    network: Network,
    extra: &[(String, String)],
    own_ip: Option<Ipv4Addr>,
) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (host, ip) in extra {
        out.push_str(&format!("{ip}\t{host}\n"));
    }
    let host_names = "host.containers.internal host.docker.internal";
    match (network, own_ip) {
        (Network::Slirp4netns, _) => {
            out.push_str(&format!("{SLIRP_CONTAINER_IP}\t{hostname}\n"));
            out.push_str(&format!("{SLIRP_HOST_IP}\t{host_names}\n"));
        }
        (Network::User, Some(ip)) => {
            out.push_str(&format!("{ip}\t{hostname}\n"));
            out.push_str(&format!("{SLIRP_HOST_IP}\t{host_names}\n"));
        }
        _ => out.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    out
}

pub fn hostname(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// The container's resolv.conf. Nameservers: on user networks the embedded resolver (the
/// first network's gateway, `resolver`) and then any `--dns`; otherwise `--dns`, or else
/// slirp4netns's DNS forwarder, or the host's file (minus loopback resolvers, which would be
/// the container's own loopback) when sharing or lacking a network. `--dns-search` and
/// `--dns-option` replace the host's search and options lines.
pub fn resolv_conf(
    network: Network,
    host_resolv_conf: &str,
    options: &NetworkOptions,
    resolver: Option<Ipv4Addr>,
) -> String {
    let flags_given = !(options.dns.is_empty()
        && options.dns_search.is_empty()
        && options.dns_options.is_empty());
    if network == Network::Host && !flags_given {
        return host_resolv_conf.to_string();
    }
    let host_lines = |prefix: &str| -> Vec<String> {
        host_resolv_conf
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_string)
            .collect()
    };
    let host_servers: Vec<String> = host_lines("nameserver ")
        .into_iter()
        .filter(|l| network == Network::Host || !is_loopback_server(l))
        .collect();
    let given: Vec<String> = options
        .dns
        .iter()
        .map(|ip| format!("nameserver {ip}"))
        .collect();
    let mut servers = match (network, resolver) {
        (Network::User, Some(ip)) => vec![format!("nameserver {ip}")],
        _ => Vec::new(),
    };
    if !given.is_empty() {
        servers.extend(given);
    } else if network == Network::Slirp4netns {
        servers.push(format!("nameserver {SLIRP_DNS_IP}"));
    } else if network != Network::User {
        servers.extend(host_servers);
    }
    let search = if options.dns_search.is_empty() {
        host_lines("search ")
    } else {
        vec![format!("search {}", options.dns_search.join(" "))]
    };
    let opts = if options.dns_options.is_empty() {
        host_lines("options ")
    } else {
        vec![format!("options {}", options.dns_options.join(" "))]
    };
    let mut out = String::new();
    for line in servers.iter().chain(&search).chain(&opts) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_loopback_server(line: &str) -> bool {
    let ip = line.trim_start_matches("nameserver").trim();
    ip.starts_with("127.") || ip == "::1"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_for_each_network() {
        let none = NetworkOptions::default();
        let h = hosts("abc", Network::Slirp4netns, &[], None);
        assert!(h.contains("10.0.2.100\tabc\n"));
        assert!(h.contains("host.containers.internal"));
        assert!(hosts("abc", Network::None, &[], None).contains("127.0.1.1\tabc"));
        let on_net = hosts("abc", Network::User, &[], Some(Ipv4Addr::new(10, 89, 0, 2)));
        assert!(on_net.contains("10.89.0.2\tabc\n"), "{on_net}");
        assert_eq!(hostname("abc"), "abc\n");
        let host = "search corp\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            resolv_conf(Network::Slirp4netns, host, &none, None),
            "nameserver 10.0.2.3\nsearch corp\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf(Network::None, host, &none, None),
            "search corp\noptions edns0\n"
        );
        assert_eq!(resolv_conf(Network::Host, host, &none, None), host);
    }

    #[test]
    fn user_networks_use_the_embedded_resolver_and_dns_flags_override() {
        let host = "search corp\nnameserver 10.255.255.53\n";
        let gw = Some(Ipv4Addr::new(10, 89, 0, 1));
        assert_eq!(
            resolv_conf(Network::User, host, &NetworkOptions::default(), gw),
            "nameserver 10.89.0.1\nsearch corp\n"
        );
        let flags = NetworkOptions {
            dns: vec!["192.0.2.53".into()],
            dns_search: vec!["a.test".into(), "b.test".into()],
            dns_options: vec!["ndots:2".into()],
            ..NetworkOptions::default()
        };
        assert_eq!(
            resolv_conf(Network::Slirp4netns, host, &flags, None),
            "nameserver 192.0.2.53\nsearch a.test b.test\noptions ndots:2\n"
        );
        assert_eq!(
            resolv_conf(Network::User, host, &flags, gw),
            "nameserver 10.89.0.1\nnameserver 192.0.2.53\nsearch a.test b.test\noptions ndots:2\n"
        );
    }
}
