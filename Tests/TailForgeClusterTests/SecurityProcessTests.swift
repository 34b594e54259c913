import Foundation
import TailForgeTestSupport
import Testing
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// CURVE and the role allow-list with real processes and real keys on loopback.
    @Suite struct SecurityProcessTests {
        func secureCluster(_ fixture: ProcessClusterTests.Fixture) -> LocalCluster {
            let cluster = fixture.cluster()
            cluster.secure = true
            return cluster
        }

        /// A keypair the coordinator has never heard of.
        func rogueKeys(_ cluster: LocalCluster) throws -> String {
            let directory = (cluster.directory as NSString).appendingPathComponent("rogue")
            try CurveKeyPair.generate().write(to: directory, name: "rogue")
            return directory + "/rogue.key"
        }

        func coordinatorPublicKey(_ cluster: LocalCluster) throws -> String {
            try CurveKey.load(publicKeyFile: cluster.keyDirectory + "/coordinator.pub")
        }

        func client(_ cluster: LocalCluster, key: String) throws -> ClusterClient {
            try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 1,
                              security: .curveClient(try CurveKeyPair.load(secretKeyFile: key), serverPublicKey: try coordinatorPublicKey(cluster)))
        }

        func log(_ cluster: LocalCluster) -> String {
            (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
        }

        @Test func workersWithoutAnAllowedKeyNeverJoinAndAKeyedWorkerRunsTheJob() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = secureCluster(fixture)
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let rogueKey = try rogueKeys(cluster)
            let intruders = [
                try cluster.spawn("rogue", ["worker", "--connect", cluster.endpoint, "--work-dir", cluster.directory + "/rogue-work", "--threads", "1",
                                            "--name", "rogue", "--key", rogueKey, "--coordinator-key", cluster.keyDirectory + "/coordinator.pub"]),
                try cluster.spawn("keyless", ["worker", "--connect", cluster.endpoint, "--work-dir", cluster.directory + "/keyless-work", "--threads", "1",
                                              "--name", "keyless", "--insecure"]),
            ]
            defer { for process in intruders { LocalCluster.signal(process, SIGKILL) } }
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
            let manifest = fixture.manifest(output: "secure.h5", shards: 3)
            let job = try client.submit(manifest)
            // The unknown key is refused at the handshake; the operator finds it in the log by its fingerprint.
            let rogueRaw = try #require(CurveKey.bytes(try CurveKeyPair.load(secretKeyFile: rogueKey).publicKey))
            #expect(await eventually(seconds: 20) { log(cluster).contains(CurveKey.fingerprint(raw: rogueRaw)) }, "\(log(cluster))")
            let before = try client.status(job: job)
            #expect(before.workers.isEmpty)
            #expect(before.jobs.first?.shardsDone == 0)

            try cluster.startWorker()
            let final = try await ProcessClusterTests.waitForJob(job, on: cluster.endpoint, security: try cluster.clientSecurity, seconds: 60)
            #expect(final?.state == .committed, "\(final?.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            #expect(try client.status().workers.map(\.name) == ["local0"])

            // Refused workers still stop on SIGTERM (their sends never block on a connection that does not exist).
            for process in intruders {
                #expect(process.isRunning)
                LocalCluster.signal(process, SIGTERM)
                #expect(await eventually(seconds: 20) { !process.isRunning }, "a refused worker ignored SIGTERM")
            }
        }

        @Test func aWorkerStartedWithAClientKeyExitsNamingTheRoleProblem() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = secureCluster(fixture)
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let worker = try cluster.spawn("misfiled", ["worker", "--connect", cluster.endpoint, "--work-dir", cluster.directory + "/misfiled-work",
                                                        "--threads", "1", "--name", "misfiled", "--key", cluster.keyDirectory + "/client.key",
                                                        "--coordinator-key", cluster.keyDirectory + "/coordinator.pub"])
            defer { LocalCluster.signal(worker, SIGKILL) }
            #expect(await eventually(seconds: 20) { !worker.isRunning }, "it must not say hello forever")
            #expect(!worker.isRunning && worker.terminationStatus != 0)
            let text = (try? String(contentsOfFile: cluster.logPath("misfiled"), encoding: .utf8)) ?? ""
            #expect(text.contains("has this worker's key as a client, not a worker"), "\(text)")
        }

        @Test func aClientWhoseHandshakeFailedGetsAnErrorOnEveryRequestAndAKeylessOneAHint() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = secureCluster(fixture)
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            // One client, several requests: each ends in an error within its timeout instead of blocking.
            let rogue = try client(cluster, key: try rogueKeys(cluster))
            for _ in 0..<3 {
                #expect(throws: ClusterClientError.self) { try rogue.status() }
            }
            let plain = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 1)
            for _ in 0..<2 {
                do {
                    _ = try plain.status()
                    Issue.record("a keyless client was answered by a CURVE coordinator")
                } catch {
                    guard case .noReplyWithoutKeys = error else { Issue.record("expected the keyless hint, got \(error)"); continue }
                    #expect("\(error)".contains("--key FILE --coordinator-key FILE.pub"))
                }
            }
            // The command line says the same.
            let (status, text) = try await fixture.runToExit(["status", "--coordinator", cluster.endpoint])
            #expect(status != 0)
            #expect(text.contains("connected in plain text without keys") && text.contains("TAILFORGE_KEY"), "\(text)")
        }

        @Test func onlyAClientKeyMaySubmitCancelOrReadStatus() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = secureCluster(fixture)
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let manifest = fixture.manifest(output: "roles.h5", shards: 2)

            // No key at all: plain text never completes the CURVE handshake, so nothing is answered.
            func plain() throws -> ClusterClient { try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 1) }
            #expect(throws: ClusterClientError.self) { try plain().status() }
            #expect(throws: ClusterClientError.self) { try plain().submit(manifest) }
            // An unknown key: refused at the handshake.
            let rogueKey = try rogueKeys(cluster)
            #expect(throws: ClusterClientError.self) { try client(cluster, key: rogueKey).status() }
            #expect(throws: ClusterClientError.self) { try client(cluster, key: rogueKey).cancel(job: "job-1") }
            #expect(throws: ClusterClientError.self) { try client(cluster, key: rogueKey).submit(manifest) }

            // A worker key: connected, but every client request is forbidden.
            let worker = try client(cluster, key: cluster.keyDirectory + "/worker.key")
            for request in [{ _ = try worker.submit(manifest) }, { _ = try worker.status() }, { _ = try worker.cancel(job: "job-1") }] as [() throws -> Void] {
                do {
                    try request()
                    Issue.record("a worker key was allowed a client request")
                } catch let error as ClusterClientError {
                    guard case .rejected(let code, _) = error else { Issue.record("expected a refusal, got \(error)"); continue }
                    #expect(code == "forbidden")
                }
            }

            // The client key may do all three.
            let allowed = try client(cluster, key: cluster.keyDirectory + "/client.key")
            let job = try allowed.submit(manifest)
            #expect(try allowed.status(job: job).jobs.first?.job == job)
            #expect(try allowed.cancel(job: job).cancelled)
        }

        @Test func aKeyRemovedFromTheAllowListIsRefusedAfterSIGHUP() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = secureCluster(fixture)
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            #expect(try client(cluster, key: cluster.keyDirectory + "/client.key").status().jobs.isEmpty)

            try FileManager.default.removeItem(atPath: cluster.allowDirectory + "/clients/client.pub")
            let coordinator = try #require(cluster.coordinator)
            kill(coordinator.processIdentifier, SIGHUP)
            // Refused once the reload has happened (each try is a fresh handshake); the coordinator stays up.
            #expect(await eventually(seconds: 20, interval: .milliseconds(50)) {
                (try? client(cluster, key: cluster.keyDirectory + "/client.key").status()) == nil
            }, "\(log(cluster))")
            #expect(coordinator.isRunning)
        }

        @Test func theCoordinatorRefusesToStartWithoutKeysOrInsecure() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let state = (fixture.directory as NSString).appendingPathComponent("no-keys-\(UUID().uuidString)")
            let (status, text) = try await fixture.runToExit(["coordinator", "--bind", "tcp://127.0.0.1:*", "--state-dir", state])
            #expect(status != 0)
            #expect(text.contains("--key FILE and --allow-dir DIR"), "\(text)")
            #expect(!FileManager.default.fileExists(atPath: CoordinatorRuntime.endpointFile(stateDirectory: state)))
        }
    }
}

/// The role rule and the ZAP decision as pure functions, without sockets.
@Suite struct PeerRoleTests {
    @Test(arguments: MessageType.allCases)
    func eachMessageBelongsToExactlyTheRoleThatSendsIt(type: MessageType) {
        let worker = PeerRole.worker.permits(type)
        let client = PeerRole.client.permits(type)
        #expect(PeerRole.unauthenticated.permits(type))
        switch type {
        case .submitJob, .cancelJob, .statusRequest, .watchJob, .trainingOpen, .gradientRequest, .trainingClose, .trainingPing, .trainerProgress:
            #expect(client && !worker)
        case .hello, .heartbeat, .shardResult, .shardFailure, .shardProgress, .goodbye, .dataChunk, .dataRequest,
             .gradientReply, .trainingShardLoaded, .trainingFailure, .heldOutTally, .jobTrained:
            #expect(worker && !client)
        case .error:
            #expect(worker && client)
        default:  // coordinator → peer messages: nobody may send them to the coordinator
            #expect(!worker && !client)
        }
    }

    @Test func onlyRealRolesComeFromAUserId() {
        #expect(PeerRole(userId: "worker") == .worker)
        #expect(PeerRole(userId: "client") == .client)
        #expect(PeerRole(userId: "unauthenticated") == nil)
        #expect(PeerRole(userId: nil) == nil)
        #expect(PeerRole(userId: "") == nil)
        #expect(PeerRole(userId: "client:0123456789abcdef") == .client)
        #expect(PeerRole(userId: "unauthenticated:0123456789abcdef") == nil)
        #expect(PeerRole.fingerprint(userId: "client:0123456789abcdef") == "0123456789abcdef")
        #expect(PeerRole.fingerprint(userId: "client") == nil && PeerRole.fingerprint(userId: "client:") == nil)
    }

    func request(key: [UInt8], domain: String = ZAPHandler.domain, mechanism: String = "CURVE") -> [[UInt8]] {
        [Array("1.0".utf8), Array("7".utf8), Array(domain.utf8), Array("127.0.0.1".utf8), [], Array(mechanism.utf8), key]
    }

    @Test func zapAcceptsAllowedKeysWithTheirRoleAndRefusesEverythingElse() async throws {
        let worker = try #require(CurveKey.bytes(try CurveKeyPair.generate().publicKey))
        let client = try #require(CurveKey.bytes(try CurveKeyPair.generate().publicKey))
        let stranger = try #require(CurveKey.bytes(try CurveKeyPair.generate().publicKey))
        let handler = ZAPHandler(allowList: AllowList(directory: "/nonexistent", roles: [worker: .worker, client: .client]),
                                 logger: DaemonService.logger(label: "test"))
        let accepted = handler.reply(to: request(key: worker))
        #expect(accepted[1] == Array("7".utf8) && accepted[2] == Array("200".utf8)
                && accepted[4] == Array("worker:\(CurveKey.fingerprint(raw: worker))".utf8))
        #expect(handler.reply(to: request(key: client))[4] == Array("client:\(CurveKey.fingerprint(raw: client))".utf8))
        for refused in [request(key: stranger), request(key: worker, domain: "other"), request(key: worker, mechanism: "NULL"),
                        Array(request(key: worker).prefix(3)), request(key: Array(worker.prefix(31)))] {
            let reply = handler.reply(to: refused)
            #expect(reply.count == 6 && reply[2] == Array("400".utf8) && reply[4].isEmpty)
        }
    }

    @Test func allowListReadsRolesByFolderAndRejectsAKeyWithTwoRoles() async throws {
        try withTemporaryDirectory("allow") { directory in
            let pair = try CurveKeyPair.generate()
            try pair.write(to: directory + "/keys", name: "w")
            for folder in ["workers", "clients"] { try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true) }
            try FileManager.default.copyItem(atPath: directory + "/keys/w.pub", toPath: directory + "/workers/w.pub")
            let list = try AllowList.load(directory: directory)
            #expect(list.role(of: try #require(CurveKey.bytes(pair.publicKey))) == .worker && list.clientCount == 0)
            try FileManager.default.copyItem(atPath: directory + "/keys/w.pub", toPath: directory + "/clients/w.pub")
            #expect(throws: KeyFileError.self) { try AllowList.load(directory: directory) }
            #expect(throws: KeyFileError.self) { try AllowList.load(directory: directory + "/missing") }
        }
    }

    /// A key copied into the allow-list directory itself (not workers/ or clients/) has no role: the coordinator
    /// starts, but says which file it ignores and that no worker can register, instead of only counting 0 keys.
    @Test func aKeyOutsideTheRoleFoldersAndAnEmptyWorkerListAreWarnings() async throws {
        try withTemporaryDirectory("allow") { directory in
            let pair = try CurveKeyPair.generate()
            try pair.write(to: directory + "/keys", name: "worker1")
            try FileManager.default.createDirectory(atPath: directory + "/allow/workers", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: directory + "/keys/worker1.pub", toPath: directory + "/allow/worker1.pub")
            let misplaced = try AllowList.load(directory: directory + "/allow")
            #expect(misplaced.ignored == ["worker1.pub"] && misplaced.workerCount == 0)
            #expect(misplaced.warnings == [
                "allow-list \(directory)/allow: worker1.pub lie(s) in the directory itself and are ignored; move worker keys to \(directory)/allow/workers/ and client keys to \(directory)/allow/clients/, then reload (SIGHUP)",
                "allow-list \(directory)/allow: no worker key in \(directory)/allow/workers/, so no worker can register; copy each worker's NAME.pub there, then reload (SIGHUP)",
            ])
            try FileManager.default.moveItem(atPath: directory + "/allow/worker1.pub", toPath: directory + "/allow/workers/worker1.pub")
            #expect(try AllowList.load(directory: directory + "/allow").warnings.isEmpty)
        }
    }
}
