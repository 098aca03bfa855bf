import Testing
@testable import SeawayModel
@testable import SeawayProxyCore

private func endpoint(_ last: Int) -> EndpointInfo {
    EndpointInfo(ip: IPAddress("10.244.1.\(last)")!, port: 8080, isLocal: true, ready: true, serving: true, terminating: false)
}

private let clientA = IPAddress("10.0.0.1")!, clientB = IPAddress("10.0.0.2")!

@Suite struct RoundRobinBalancerTests {
    @Test func connectionsGoRoundTheEndpointsInOrder() {
        var b = RoundRobinBalancer(endpoints: [endpoint(1), endpoint(2), endpoint(3)], affinitySeconds: nil)
        let picked = (0..<7).map { _ in b.pick(client: clientA, now: 0)!.ip.description }
        #expect(picked == ["10.244.1.1", "10.244.1.2", "10.244.1.3", "10.244.1.1", "10.244.1.2", "10.244.1.3", "10.244.1.1"])
        #expect(b.affinityEntries == 0)
    }

    @Test func affinityPinsAClientWhileItComesBackWithinTheTimeout() {
        var b = RoundRobinBalancer(endpoints: [endpoint(1), endpoint(2)], affinitySeconds: 10)
        let first = b.pick(client: clientA, now: 0)!
        #expect(b.pick(client: clientB, now: 0) != first)  // another client: the next one
        #expect(b.pick(client: clientA, now: 9) == first)
        #expect(b.pick(client: clientA, now: 18) == first)  // each use renews the timeout
        // Idle past the timeout: round robin again (the rotation is at endpoint 1 now).
        #expect(b.pick(client: clientA, now: 29) == endpoint(1))
        b.expireAffinity(now: 100)
        #expect(b.affinityEntries == 0)
    }

    @Test func aFailedAttemptIgnoresAffinityAndMovesOn() {
        var b = RoundRobinBalancer(endpoints: [endpoint(1), endpoint(2)], affinitySeconds: 10)
        let first = b.pick(client: clientA, now: 0)!
        let retry = b.pick(client: clientA, now: 1, resetAffinity: true)!
        #expect(retry != first)
        #expect(b.pick(client: clientA, now: 2) == retry)  // the retry's endpoint is the sticky one now
        #expect(RoundRobinBalancer.dialTimeouts == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2)])
    }

    @Test func endpointChangesKeepClientsOfSurvivingEndpointsAndRestartTheRotation() {
        var b = RoundRobinBalancer(endpoints: [endpoint(1), endpoint(2), endpoint(3)], affinitySeconds: 10)
        #expect(b.pick(client: clientA, now: 0) == endpoint(1))
        #expect(b.pick(client: clientB, now: 0) == endpoint(2))
        b.update([endpoint(2), endpoint(3)])
        #expect(b.affinityEntries == 1)
        #expect(b.pick(client: clientB, now: 1) == endpoint(2))  // kept
        #expect(b.pick(client: clientA, now: 1) == endpoint(2))  // lost its endpoint: rotation from the start
        b.update([])
        #expect(b.pick(client: clientA, now: 2) == nil)
    }
}
