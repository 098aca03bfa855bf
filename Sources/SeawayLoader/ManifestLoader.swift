import Foundation
import SeawayModel

/// Reads manifests from files, directories (recursively: `.yaml`, `.yml`, `.json`) and `-`
/// (stdin) into one ClusterState. The only file I/O on the way to a render.
public struct ManifestLoader {
    public static let manifestExtensions: Set<String> = ["yaml", "yml", "json"]

    /// How errors name standard input.
    public static let stdinName = "<stdin>"

    public init() {}

    /// Loads every path in order. Fails on the first bad file, object or duplicate.
    public func load(_ paths: [String]) throws -> ClusterState {
        var state = ClusterState()
        let decoder = ManifestDecoder()
        for file in try expand(paths) {
            let text = try read(file)
            try decoder.decode(text, file: file == "-" ? ManifestLoader.stdinName : file, into: &state)
        }
        try state.checkUnique()
        state.mirrorEndpoints()
        return state
    }

    /// The files `paths` name, with directories expanded in sorted order so loads are
    /// deterministic whatever order the file system lists them in.
    public func expand(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        let fm = FileManager.default
        for path in paths {
            if path == "-" {
                files.append(path)
                continue
            }
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                throw ManifestError(file: path, line: nil, object: nil, field: nil, message: "no such file or directory")
            }
            if !isDir.boolValue {
                files.append(path)
                continue
            }
            guard let walker = fm.enumerator(atPath: path) else {
                throw ManifestError(file: path, line: nil, object: nil, field: nil, message: "cannot read directory")
            }
            var found: [String] = []
            while let rel = walker.nextObject() as? String {
                let ext = (rel as NSString).pathExtension.lowercased()
                if ManifestLoader.manifestExtensions.contains(ext) {
                    found.append((path as NSString).appendingPathComponent(rel))
                }
            }
            files.append(contentsOf: found.sorted())
        }
        return files
    }

    private func read(_ file: String) throws -> String {
        let data: Data?
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: file)
        }
        guard let data else {
            throw ManifestError(file: file, line: nil, object: nil, field: nil, message: "cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ManifestError(file: file == "-" ? ManifestLoader.stdinName : file, line: nil, object: nil, field: nil,
                                message: "not UTF-8 text")
        }
        return text
    }
}
