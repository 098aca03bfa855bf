// seaway-ipam: host-local compatible IPAM, as a CNI plugin executable.
import Glibc
import SeawayCNI
import SeawayIPAM
import SeawayKernel

let environment = ProcessIO.environment()
// A test hook: die right after the first reservation, as a crash or a kill -9 would.
@Sendable func dieNow() { _exit(137) }
let crash: (@Sendable () -> Void)? = environment["SEAWAY_CNI_TEST_CRASH_AFTER_RESERVE"] == "1" ? dieNow : nil
let outcome = CNIPluginRunner.run(HostLocalPlugin(afterReserve: crash), environment: environment, stdin: ProcessIO.readStandardInput())
ProcessIO.write(outcome.stdout)
exit(outcome.exitCode)
