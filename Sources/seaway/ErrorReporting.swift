import ArgumentParser
import Foundation
import SeawayDNS
import SeawayModel
import SeawayPolicy
import SeawayProxyCore

/// Runs `body`; bad input is printed as `seaway: error: file:line: object: field: message`
/// and exits 1, without ArgumentParser's usage text (the command line was fine; the data was not).
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ManifestError {
        printError(e.description)
    } catch let e as ProxyConfigurationError {
        printError(e.description)
    } catch let e as PolicyQueryError {
        printError(e.description)
    } catch let e as Corefile.Error {
        printError(e.description)
    } catch let e as ValidationError {
        throw e
    } catch let e as ExitCode {
        throw e
    } catch {
        printError("\(error)")
    }
    throw ExitCode.failure
}

func printError(_ message: String) {
    printNotice("error: \(message)")
}

/// A line on stderr that is not an error (e.g. `--verbose` output).
func printNotice(_ message: String) {
    FileHandle.standardError.write(Data("seaway: \(message)\n".utf8))
}

func readTextFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ManifestError(file: path, line: nil, object: nil, field: nil, message: "cannot read file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw ManifestError(file: path, line: nil, object: nil, field: nil, message: "not UTF-8 text")
    }
    return text
}
