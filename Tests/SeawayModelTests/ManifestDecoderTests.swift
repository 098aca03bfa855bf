import Testing
@testable import SeawayModel

/// Decodes `text` as file `f.yaml`.
private func decode(_ text: String) throws -> ClusterState {
    var state = ClusterState()
    try ManifestDecoder().decode(text, file: "f.yaml", into: &state)
    try state.checkUnique()
    state.mirrorEndpoints()
    return state
}

/// The ManifestError decoding `text` throws.
private func failure(_ text: String) -> ManifestError? {
    do {
        _ = try decode(text)
        return nil
    } catch let e as ManifestError {
        return e
    } catch {
        return nil
    }
}

private let service = """
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec:
      clusterIP: 10.96.0.10
      ports:
      - {name: http, port: 80, targetPort: 8080}
      - {name: dns, port: 53, protocol: UDP}
    """

@Suite struct ManifestDecoderTests {
    @Test func decodesAService() throws {
        let s = try decode(service).services
        #expect(s.count == 1)
        #expect(s[0].metadata.namespace == "shop")
        #expect(s[0].clusterIPs.map(\.description) == ["10.96.0.10"])
        #expect(s[0].ports.map(\.port) == [80, 53])
        #expect(s[0].ports[1].proto == .udp)
        #expect(s[0].ports[0].targetPort == .int(8080))
        #expect(s[0].metadata.source == ManifestLocation(file: "f.yaml", line: 1))
    }

    @Test func multiDocumentJSONAndList() throws {
        let json = #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}"#
        let list = """
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: Namespace, metadata: {name: b}}
            - {apiVersion: v1, kind: Namespace, metadata: {name: c}}
            """
        let state = try decode(json + "\n---\n" + list + "\n---\n")
        #expect(state.namespaces.map(\.metadata.name) == ["a", "b", "c"])
    }

    @Test func unknownKindsAreSkippedAndListed() throws {
        let state = try decode("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: x}\n")
        #expect(state.skipped == ["Deployment x/d (apps/v1, f.yaml:1)"])
    }

    @Test func malformedYAMLNamesTheLine() throws {
        let e = try #require(failure("apiVersion: v1\nkind: Service\nmetadata: {name: [\n"))
        #expect(e.file == "f.yaml")
        #expect(e.line != nil)
        #expect(e.message.hasPrefix("invalid YAML"))
    }

    @Test func portOutOfRange() throws {
        let e = try #require(failure(service.replacingOccurrences(of: "port: 80,", with: "port: 70000,")))
        #expect(e.description == "f.yaml:7: Service shop/web: spec.ports[0].port: 70000 is out of range (1-65535)")
    }

    @Test func wrongTypeIsAnError() throws {
        let e = try #require(failure(service.replacingOccurrences(of: "port: 80,", with: "port: \"80\",")))
        #expect(e.field == "spec.ports[0].port")
        #expect(e.message == "expected an integer, found the string \"80\"")
    }

    @Test func unknownProtocol() throws {
        let e = try #require(failure(service.replacingOccurrences(of: "protocol: UDP", with: "protocol: ICMP")))
        #expect(e.object == "Service shop/web")
        #expect(e.field == "spec.ports[1].protocol")
        #expect(e.message.contains("unsupported protocol 'ICMP'"))
    }

    @Test func invalidClusterIP() throws {
        let e = try #require(failure(service.replacingOccurrences(of: "10.96.0.10", with: "10.96.0.300")))
        #expect(e.field == "spec.clusterIP")
        #expect(e.line == 5)
    }

    @Test func invalidEndpointAddressForAddressType() throws {
        let slice = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: s, namespace: ns, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            endpoints:
            - addresses: ["fd00::1"]
            """
        let e = try #require(failure(slice))
        #expect(e.description == "f.yaml:6: EndpointSlice ns/s: endpoints[0].addresses[0]: 'fd00::1' is not a valid IPv4 address")
    }

    @Test func duplicateObjectsNameBothPlaces() throws {
        let e = try #require(failure(service + "\n---\n" + service))
        #expect(e.object == "Service shop/web")
        #expect(e.line == 10)
        #expect(e.message == "duplicate object: already defined at f.yaml:1")
    }

    @Test func missingKindAndNonObjects() throws {
        #expect(failure("metadata: {name: x}\n")?.field == "kind")
        #expect(failure("- just\n- a list\n")?.message.hasPrefix("expected a Kubernetes object") == true)
    }

    @Test func multiPortServicesNeedNames() throws {
        let e = try #require(failure(service.replacingOccurrences(of: "name: dns, ", with: "")))
        #expect(e.field == "spec.ports[1]")
    }

    @Test func sourceRangesAreTrimmedAndLeadingZerosNormalised() throws {
        let text = service.replacingOccurrences(of: "  clusterIP: 10.96.0.10",
                                                with: "  clusterIP: 010.096.000.010\n  loadBalancerSourceRanges: [\" 203.0.113.0/25 \"]")
        let s = try decode(text).services[0]
        #expect(s.clusterIPs[0].description == "10.96.0.10")
        #expect(s.loadBalancerSourceRanges.map(\.description) == ["203.0.113.0/25"])
    }

    @Test func endpointsAreMirroredOnlyWithoutSlices() throws {
        let endpoints = """
            apiVersion: v1
            kind: Endpoints
            metadata: {name: legacy, namespace: ns}
            subsets:
            - addresses: [{ip: 10.0.0.1, nodeName: n1}, {ip: "fd00::1"}]
              notReadyAddresses: [{ip: 10.0.0.2}]
              ports: [{name: http, port: 80}]
            """
        let state = try decode(endpoints)
        #expect(state.endpointSlices.count == 2)
        let v4 = try #require(state.endpointSlices.first { $0.addressType == .ipv4 })
        #expect(v4.serviceName == "legacy")
        #expect(v4.endpoints.map(\.addresses) == [["10.0.0.1"], ["10.0.0.2"]])
        #expect(v4.endpoints.map(\.conditions.ready) == [true, false])
        #expect(v4.endpoints[0].nodeName == "n1")

        let slice = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: legacy-abc, namespace: ns, labels: {kubernetes.io/service-name: legacy}}
            addressType: IPv4
            endpoints: [{addresses: [10.0.0.9]}]
            """
        let both = try decode(endpoints + "\n---\n" + slice)
        #expect(both.endpointSlices.map(\.metadata.name) == ["legacy-abc"])
    }

    /// The parsed first address follows the address text, whether it was decoded (with
    /// leading zeros normalised), given to the initializer, or changed later.
    @Test func endpointKeepsItsFirstAddressParsed() throws {
        let slice = try decode("""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: s-1, namespace: ns, labels: {kubernetes.io/service-name: s}}
            addressType: IPv4
            endpoints: [{addresses: [010.0.0.9, 10.0.0.8]}]
            """).endpointSlices[0]
        var endpoint = slice.endpoints[0]
        #expect(endpoint.firstAddress == IPAddress("10.0.0.9"))
        endpoint.addresses = ["10.1.1.1"]
        #expect(endpoint.firstAddress == IPAddress("10.1.1.1"))
        endpoint.addresses[0] = "fd00::5"
        #expect(endpoint.firstAddress == IPAddress("fd00::5"))
        #expect(EndpointSlice.Endpoint(addresses: ["pod.example.com"]).firstAddress == nil)
        #expect(EndpointSlice.Endpoint(addresses: []).firstAddress == nil)
    }

    @Test func networkPolicyValidation() throws {
        func policy(_ ingress: String) -> String {
            """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: ns}
            spec:
              podSelector: {}
              ingress:
            \(ingress)
            """
        }
        #expect(failure(policy("  - from: [{podSelector: {matchExpressions: [{key: a, operator: Maybe}]}}]"))?
            .message == "invalid operator 'Maybe' (must be In, NotIn, Exists or DoesNotExist)")
        #expect(failure(policy("  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]"))?
            .field == "spec.ingress[0].from[0].ipBlock.except[0]")
        #expect(failure(policy("  - ports: [{port: 90, endPort: 80}]"))?
            .message == "endPort 80 must be greater than or equal to port 90")
        #expect(failure(policy("  - ports: [{port: http, endPort: 80}]"))?
            .message == "endPort may only be used with a numeric port")
        #expect(failure(policy("  - ports: [{port: 80, protocol: ICMP}]"))?.field == "spec.ingress[0].ports[0].protocol")
        let ok = try decode(policy("  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {a: b}}}]"))
        let p = try #require(ok.networkPolicies.first)
        #expect(p.policyTypes == [.ingress])
        #expect(p.ingress[0].peers?.count == 1)
    }
}

@Suite struct KubeProxyConfigurationTests {
    private let config = """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        mode: nftables
        clusterCIDR: 10.244.0.0/16
        nodePortAddresses: [primary]
        iptables: {masqueradeBit: 15, localhostNodePorts: false}
        nftables: {masqueradeAll: true}
        ipvs: {scheduler: lc}
        """

    @Test func readsTheFileAndTheConfigMap() throws {
        let c = try KubeProxyConfiguration.decode(config, file: "kp.yaml")
        #expect(c.mode == "nftables" && c.clusterCIDR == "10.244.0.0/16" && c.nodePortAddresses == ["primary"])
        #expect(c.iptables.masqueradeBit == 15 && c.iptables.localhostNodePorts == false)
        #expect(c.nftables.masqueradeAll == true && c.ipvsScheduler == "lc")

        let indented = config.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        let configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-proxy, namespace: kube-system}\ndata:\n  config.conf: |\n\(indented)\n"
        #expect(try KubeProxyConfiguration.decode(configMap, file: "cm.yaml") == c)
    }

    @Test func badValuesNameTheField() throws {
        do {
            _ = try KubeProxyConfiguration.decode(config.replacingOccurrences(of: "mode: nftables", with: "mode: userspace"), file: "kp.yaml")
            Issue.record("expected an error")
        } catch let e as ManifestError {
            #expect(e.description == "kp.yaml:3: KubeProxyConfiguration: mode: unsupported mode 'userspace'")
        }
        #expect(throws: ManifestError.self) {
            try KubeProxyConfiguration.decode("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '1', b: '2'}\n", file: "cm.yaml")
        }
    }
}
