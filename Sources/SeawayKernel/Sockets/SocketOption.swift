import Glibc

/// Sets an integer socket option; a failure names the option (`what`, built only then).
func setSocketOption(_ fd: CInt, _ level: CInt, _ option: CInt, _ value: CInt,
                     _ what: @autoclosure () -> String) throws(SystemError) {
    var value = value
    guard setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
        throw .current("set \(what())")
    }
}
