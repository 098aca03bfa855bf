// seaway-bridge: the bridge + veth CNI plugin.
import Glibc
import SeawayBridge
import SeawayCNI
import SeawayKernel

let environment = ProcessIO.environment()
let outcome = CNIPluginRunner.run(BridgePlugin(environment: environment), environment: environment,
                                  stdin: ProcessIO.readStandardInput())
ProcessIO.write(outcome.stdout)
exit(outcome.exitCode)
