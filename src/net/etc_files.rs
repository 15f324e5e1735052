//! /etc/hosts, /etc/hostname and /etc/resolv.conf for a container (pure).

use crate::spec::container::Network;

/// slirp4netns's fixed addresses (its default 10.0.2.0/24 network).
pub const SLIRP_CONTAINER_IP: &str = "10.0.2.100";
pub const SLIRP_HOST_IP: &str = "10.0.2.2";
pub const SLIRP_DNS_IP: &str = "10.0.2.3";

/// The container's /etc/hosts: localhost, its own name, and `--add-host` entries.
pub fn hosts(hostname: &str, network: Network, extra: &[(String, String)]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (host, ip) in extra {
        out.push_str(&format!("{ip}\t{host}\n"));
    }
    match network {
        Network::Slirp4netns => {
            out.push_str(&format!("{SLIRP_CONTAINER_IP}\t{hostname}\n"));
            out.push_str(&format!(
                "{SLIRP_HOST_IP}\thost.containers.internal host.docker.internal\n"
            ));
        }
        Network::None | Network::Host => out.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    out
}

pub fn hostname(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// The container's resolv.conf: slirp4netns's DNS forwarder, or the host's
/// file (minus loopback resolvers, which would be the container's own
/// loopback) when sharing or lacking a network.
pub fn resolv_conf(network: Network, host_resolv_conf: &str) -> String {
    match network {
        Network::Slirp4netns => {
            let mut out = format!("nameserver {SLIRP_DNS_IP}\n");
            for line in host_resolv_conf.lines() {
                if line.starts_with("search ") || line.starts_with("options ") {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out
        }
        Network::Host => host_resolv_conf.to_string(),
        Network::None => host_resolv_conf
            .lines()
            .filter(|l| !l.starts_with("nameserver 127.") && !l.starts_with("nameserver ::1"))
            .map(|l| format!("{l}\n"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_for_each_network() {
        let h = hosts("abc", Network::Slirp4netns, &[]);
        assert!(h.contains("10.0.2.100\tabc\n"));
        assert!(h.contains("host.containers.internal"));
        assert!(hosts("abc", Network::None, &[]).contains("127.0.1.1\tabc"));
        assert_eq!(hostname("abc"), "abc\n");
        let host = "search corp\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            resolv_conf(Network::Slirp4netns, host),
            "nameserver 10.0.2.3\nsearch corp\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf(Network::None, host),
            "search corp\noptions edns0\n"
        );
        assert_eq!(resolv_conf(Network::Host, host), host);
    }
}
