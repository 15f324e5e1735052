//! IPv4 subnets of user-defined networks: parsing, overlap with other networks and with the
//! host's routes, choosing a free one, and handing out addresses (pure).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 network in CIDR notation, e.g. `10.89.0.0/24` (host bits must be zero, as Docker
/// requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    #[error("invalid subnet `{0}`: expected an IPv4 CIDR such as 10.89.0.0/24")]
    Syntax(String),
    #[error("invalid subnet `{0}`: the prefix must be between 8 and 30")]
    Prefix(String),
    #[error("invalid subnet `{given}`: host bits are set (did you mean {network}?)")]
    HostBits { given: String, network: String },
}

impl Subnet {
    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    pub fn overlaps(self, other: Subnet) -> bool {
        let mask = self.mask() & other.mask();
        u32::from(self.addr) & mask == u32::from(other.addr) & mask
    }

    /// The `n`th address (the network address is the 0th).
    pub fn host(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + n)
    }

    /// Docker's default gateway: the first host address.
    pub fn default_gateway(self) -> Ipv4Addr {
        self.host(1)
    }

    /// Usable host addresses (neither the network nor the broadcast address).
    pub fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
        let size = 1u32 << (32 - u32::from(self.prefix));
        (1..size - 1).map(move |n| self.host(n))
    }

    /// Whether `ip` is a usable host address of this subnet.
    pub fn is_host(self, ip: Ipv4Addr) -> bool {
        let broadcast = self.host((1u32 << (32 - u32::from(self.prefix))) - 1);
        self.contains(ip) && ip != self.addr && ip != broadcast
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    fn from_str(text: &str) -> Result<Subnet, SubnetError> {
        let syntax = || SubnetError::Syntax(text.to_string());
        let (addr, prefix) = text.split_once('/').ok_or_else(syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| syntax())?;
        let prefix: u8 = prefix.parse().map_err(|_| syntax())?;
        if !(8..=30).contains(&prefix) {
            return Err(SubnetError::Prefix(text.to_string()));
        }
        let subnet = Subnet { addr, prefix };
        let network = Ipv4Addr::from(u32::from(addr) & subnet.mask());
        if network != addr {
            return Err(SubnetError::HostBits {
                given: text.to_string(),
                network: format!("{network}/{prefix}"),
            });
        }
        Ok(subnet)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl TryFrom<String> for Subnet {
    type Error = SubnetError;
    fn try_from(s: String) -> Result<Subnet, SubnetError> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

/// The routes of the host's main table that are not the default route, from
/// `/proc/net/route` (addresses are little-endian hex there).
pub fn host_routes(proc_net_route: &str) -> Vec<(String, Subnet)> {
    let mut out = Vec::new();
    for line in proc_net_route.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(iface), Some(dest), Some(mask)) = (fields.first(), fields.get(1), fields.get(7))
        else {
            continue;
        };
        // The kernel prints the address's bytes (network order) as a native u32.
        let parse = |h: &str| {
            u32::from_str_radix(h, 16)
                .ok()
                .map(|n| u32::from(Ipv4Addr::from(n.to_ne_bytes())))
        };
        let (Some(dest), Some(mask)) = (parse(dest), parse(mask)) else {
            continue;
        };
        if mask == 0 {
            continue;
        }
        let prefix = mask.leading_ones() as u8;
        out.push((
            iface.to_string(),
            Subnet {
                addr: Ipv4Addr::from(dest),
                prefix,
            },
        ));
    }
    out
}

/// The gateway of the host's default route, from `/proc/net/route` (what pasta maps to the
/// host's loopback inside a container).
pub fn default_gateway(proc_net_route: &str) -> Option<Ipv4Addr> {
    proc_net_route.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match (fields.get(1), fields.get(2), fields.get(7)) {
            (Some(&"00000000"), Some(gateway), Some(&"00000000")) => {
                u32::from_str_radix(gateway, 16)
                    .ok()
                    .map(|n| Ipv4Addr::from(n.to_ne_bytes()))
                    .filter(|ip| !ip.is_unspecified())
            }
            _ => None,
        }
    })
}

/// slirp4netns's own network inside every container with outbound access.
pub const SLIRP_SUBNET: Subnet = Subnet {
    addr: Ipv4Addr::new(10, 0, 2, 0),
    prefix: 24,
};

/// What a new subnet must not overlap: slirp4netns's network, the other networks', and the
/// host's routes (a container could no longer reach those host networks).
pub fn clash(
    subnet: Subnet,
    networks: &[(String, Subnet)],
    routes: &[(String, Subnet)],
) -> Option<String> {
    if subnet.overlaps(SLIRP_SUBNET) {
        return Some(format!(
            "it overlaps {SLIRP_SUBNET}, which slirp4netns uses inside containers"
        ));
    }
    if let Some((name, other)) = networks.iter().find(|(_, s)| s.overlaps(subnet)) {
        return Some(format!("it overlaps network `{name}` ({other})"));
    }
    if let Some((iface, route)) = routes.iter().find(|(_, s)| s.overlaps(subnet)) {
        return Some(format!("it overlaps the host's route {route} on {iface}"));
    }
    None
}

/// The first free `10.89.N.0/24` (Podman's range for new networks).
pub fn choose(networks: &[(String, Subnet)], routes: &[(String, Subnet)]) -> Option<Subnet> {
    (0..=255u8)
        .map(|n| Subnet {
            addr: Ipv4Addr::new(10, 89, n, 0),
            prefix: 24,
        })
        .find(|s| clash(*s, networks, routes).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_cidrs() {
        let s: Subnet = "10.89.3.0/24".parse().unwrap();
        assert_eq!(s.to_string(), "10.89.3.0/24");
        assert_eq!(s.default_gateway(), Ipv4Addr::new(10, 89, 3, 1));
        assert!(s.is_host(Ipv4Addr::new(10, 89, 3, 254)));
        assert!(!s.is_host(Ipv4Addr::new(10, 89, 3, 255)));
        assert!(!s.is_host(Ipv4Addr::new(10, 89, 4, 2)));
        assert_eq!(s.hosts().count(), 254);
        assert!(matches!(
            "10.89.3.1/24".parse::<Subnet>(),
            Err(SubnetError::HostBits { network, .. }) if network == "10.89.3.0/24"
        ));
        assert!(matches!(
            "10.0.0.0/4".parse::<Subnet>(),
            Err(SubnetError::Prefix(_))
        ));
        assert!(matches!(
            "fd00::/64".parse::<Subnet>(),
            Err(SubnetError::Syntax(_))
        ));
        let wide: Subnet = "10.0.0.0/8".parse().unwrap();
        assert!(wide.overlaps(s) && s.overlaps(wide));
        assert!(!s.overlaps("10.89.4.0/24".parse().unwrap()));
    }

    #[test]
    fn reads_host_routes_and_avoids_clashes() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let routes = host_routes(table);
        assert_eq!(routes.len(), 1);
        assert_eq!(default_gateway(table), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(
            default_gateway(&table.replace("0101A8C0", "00000000")),
            None
        );
        assert_eq!(routes[0].1.to_string(), "10.89.0.0/24");
        let taken = vec![("dev".to_string(), "10.89.1.0/24".parse().unwrap())];
        assert_eq!(choose(&taken, &routes).unwrap().to_string(), "10.89.2.0/24");
        let reason = clash("10.89.0.0/16".parse().unwrap(), &[], &routes).unwrap();
        assert!(
            reason.contains("host's route 10.89.0.0/24 on eth0"),
            "{reason}"
        );
        assert!(clash("10.0.0.0/16".parse().unwrap(), &[], &[])
            .unwrap()
            .contains("slirp4netns"));
    }
}
