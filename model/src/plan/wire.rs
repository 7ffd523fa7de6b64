//! The plan's closed sets, serialised with the ELBv2 API's own names; `as_str` gives the same
//! name to the SDK.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The ELBv2 wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// The value for an ELBv2 wire name; `None` for a name outside the set.
            pub fn from_wire(name: &str) -> Option<Self> {
                match name {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// A load balancer's `Type`.
    LoadBalancerType { Application = "application", Network = "network" }
);

wire_enum!(
    /// A load balancer's `Scheme`.
    Scheme { InternetFacing = "internet-facing", Internal = "internal" }
);

wire_enum!(
    /// A listener's or target group's `Protocol`.
    Protocol {
        Http = "HTTP",
        Https = "HTTPS",
        Tcp = "TCP",
        Tls = "TLS",
        Udp = "UDP",
        TcpUdp = "TCP_UDP",
        Geneve = "GENEVE",
        Quic = "QUIC",
        TcpQuic = "TCP_QUIC",
    }
);

wire_enum!(
    /// A target group's `TargetType`.
    TargetType { Instance = "instance", Ip = "ip", Lambda = "lambda", Alb = "alb" }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, from_wire: fn(&str) -> Option<T>)
    where
        T: Copy + PartialEq + std::fmt::Debug + Serialize + serde::de::DeserializeOwned,
    {
        for &value in all {
            let wire = as_str(value);
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::json!(wire), "{value:?}");
            assert_eq!(serde_json::from_value::<T>(serde_json::json!(wire)).unwrap(), value);
            assert_eq!(from_wire(wire), Some(value));
        }
        assert!(serde_json::from_value::<T>(serde_json::json!("nonsense")).is_err());
        assert_eq!(from_wire("nonsense"), None);
    }

    #[test]
    fn closed_sets_round_trip_their_elbv2_wire_names() {
        round_trips(LoadBalancerType::ALL, LoadBalancerType::as_str, LoadBalancerType::from_wire);
        round_trips(Scheme::ALL, Scheme::as_str, Scheme::from_wire);
        round_trips(Protocol::ALL, Protocol::as_str, Protocol::from_wire);
        round_trips(TargetType::ALL, TargetType::as_str, TargetType::from_wire);
    }

    #[test]
    fn wire_names_are_elbv2_s() {
        assert_eq!(LoadBalancerType::Application.as_str(), "application");
        assert_eq!(LoadBalancerType::Network.to_string(), "network");
        assert_eq!(Scheme::InternetFacing.as_str(), "internet-facing");
        assert_eq!(Scheme::Internal.as_str(), "internal");
        assert_eq!(Protocol::TcpUdp.as_str(), "TCP_UDP");
        assert_eq!(Protocol::Https.as_str(), "HTTPS");
        assert_eq!(TargetType::Ip.as_str(), "ip");
        assert_eq!(TargetType::Instance.as_str(), "instance");
        assert_eq!(Protocol::from_wire("http"), None, "wire names are case-sensitive");
    }
}
