// seaway-bridge: the bridge + veth CNI plugin.
import Glibc
import SeawayBridge
import SeawayCNI
import SeawayKernel

let environment = ProcessIO.environment()
// A test hook: die at a stage of ADD, as a crash or a kill -9 would.
let crashAt = environment["SEAWAY_CNI_TEST_CRASH_AT"]
let plugin = BridgePlugin(environment: environment) { stage in if stage == crashAt { _exit(137) } }
let outcome = CNIPluginRunner.run(plugin, environment: environment, stdin: ProcessIO.readStandardInput())
ProcessIO.write(outcome.stdout)
exit(outcome.exitCode)
