//! Typed views of the API objects cloudstrap reads. Fields the server may omit default to empty.

use serde::Deserialize;

macro_rules! api_object {
    ($(#[$m:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(default)]
        pub struct $name { $(pub $field: $ty),* }
    };
}

api_object!(Zone { id: String, name: String, networktype: String, allocationstate: String, securitygroupsenabled: bool });
api_object!(PhysicalNetwork { id: String, name: String, zoneid: String, state: String, vlan: String, isolationmethods: String });
api_object!(TrafficType { id: String, traffictype: String, physicalnetworkid: String, kvmnetworklabel: String });
api_object!(NetworkServiceProvider { id: String, name: String, state: String, physicalnetworkid: String });
api_object!(ProviderElement { id: String, nspid: String, enabled: bool });
api_object!(NetworkOffering { id: String, name: String, state: String });
api_object!(Network { id: String, name: String, zoneid: String, networkofferingid: String });
api_object!(Pod { id: String, name: String, zoneid: String, gateway: String, netmask: String, allocationstate: String });
api_object!(VlanIpRange {
    id: String, zoneid: String, podid: String, networkid: String, physicalnetworkid: String, vlan: String,
    gateway: String, netmask: String, startip: String, endip: String, forvirtualnetwork: bool,
});
api_object!(Cluster { id: String, name: String, podid: String, zoneid: String, hypervisortype: String, allocationstate: String });
api_object!(Host {
    id: String, name: String, ipaddress: String, state: String, resourcestate: String, r#type: String,
    zoneid: String, podid: String, clusterid: String, hypervisor: String,
});
api_object!(StoragePool { id: String, name: String, zoneid: String, clusterid: String, state: String, r#type: String, ipaddress: String, path: String, scope: String });
api_object!(ImageStore { id: String, name: String, zoneid: String, url: String, providername: String, protocol: String });
api_object!(SystemVm { id: String, name: String, state: String, systemvmtype: String, zoneid: String });
api_object!(
    /// `listTemplates templatefilter=system`: the system VM template, Ready once on secondary storage.
    Template { id: String, name: String, zoneid: String, hypervisor: String, isready: bool, status: String, templatetype: String }
);
api_object!(User { id: String, username: String, account: String, accountid: String, domainid: String, apikey: String, state: String });
api_object!(
    /// `registerUserKeys` and `getUserKeys` answers.
    UserKeys { apikey: String, secretkey: String }
);
api_object!(AsyncJob { jobid: String, jobstatus: i64, jobresultcode: i64, cmd: String });
