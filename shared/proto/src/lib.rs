//! The generated gRPC code of every generec service, one module per proto
//! package, and the descriptor set that servers publish through reflection.
//!
//! Every crate takes `tonic` and `prost` from here so the workspace builds
//! against one version of each.

pub use prost;
pub use tonic;

/// The `FileDescriptorSet` of every package, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/generec_descriptor.bin"));

/// Every service of the descriptor set (full name, such as
/// `generec.trust.v1.TrustService`) with the names of its methods.
pub fn service_methods() -> std::collections::BTreeMap<String, Vec<String>> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    for file in set.file {
        let package = file.package.unwrap_or_default();
        for service in file.service {
            let name = format!("{package}.{}", service.name.unwrap_or_default());
            let methods = service.method.into_iter().filter_map(|m| m.name).collect();
            out.insert(name, methods);
        }
    }
    out
}

/// Types shared by every service (`generec.common.v1`).
pub mod common {
    pub mod v1 {
        tonic::include_proto!("generec.common.v1");
    }
}

/// The corpus service (`generec.corpus.v1`).
pub mod corpus {
    pub mod v1 {
        tonic::include_proto!("generec.corpus.v1");
    }
}

/// The trust service (`generec.trust.v1`).
pub mod trust {
    pub mod v1 {
        tonic::include_proto!("generec.trust.v1");
    }
}

/// The generation service (`generec.generation.v1`).
pub mod generation {
    pub mod v1 {
        tonic::include_proto!("generec.generation.v1");
    }
}

/// The feed service (`generec.feed.v1`).
pub mod feed {
    pub mod v1 {
        tonic::include_proto!("generec.feed.v1");
    }
}
