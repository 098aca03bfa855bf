import SeawayModel

/// `seaway policy matrix` output, written as bytes in chunks: a 5,000-pod matrix is 25 million
/// cells per port, far too large to build as one string. `flush` receives each full chunk
/// (the caller decides where bytes go; this module does no I/O).
public struct MatrixReport {
    public enum Format: String, Sendable, CaseIterable {
        case table, tsv, json
    }

    public let matrices: [PolicyMatrix]
    /// The pods shown, as indices into `PolicyMatrix.pods`, for rows and columns alike.
    public let shown: [Int]

    public init(matrices: [PolicyMatrix], shown: [Int]) {
        self.matrices = matrices
        self.shown = shown
    }

    public func write(_ format: Format, flush: ([UInt8]) -> Void) {
        withoutActuallyEscaping(flush) { flush in
            var out = ChunkedBytes(flush: flush)
            switch format {
            case .tsv: writeTSV(&out)
            case .table: writeTable(&out)
            case .json: writeJSON(&out)
            }
            out.finish()
        }
    }

    /// `from	to	port	protocol	allowed`, then one line per cell.
    private func writeTSV(_ out: inout ChunkedBytes) {
        out.append("from\tto\tport\tprotocol\tallowed\n")
        guard let names = matrices.first?.pods else { return }
        for m in matrices {
            let suffix = Array("\t\(m.port)\t\(m.proto.rawValue)\t".utf8)
            for f in shown {
                let from = Array((names[f] + "\t").utf8)
                for t in shown {
                    out.append(from)
                    out.append(names[t])
                    out.append(suffix)
                    out.append(m.allowed(from: f, to: t) ? "true\n" : "false\n")
                }
            }
        }
    }

    /// Per port and protocol, three grids in the e2e suite's notation (`.` allowed, `X`
    /// denied; rows are sources, columns destinations): ingress alone, egress alone, combined.
    private func writeTable(_ out: inout ChunkedBytes) {
        guard let names = matrices.first?.pods else { return }
        let width = shown.map { names[$0].count }.max() ?? 1
        func padded(_ s: String) -> String { s + String(repeating: " ", count: width - s.count + 1) }
        func line(_ first: String, _ columns: [String]) -> String {
            padded(first) + columns.dropLast().map(padded).joined() + (columns.last ?? "") + "\n"
        }
        let header = line("-", shown.map { names[$0] })
        for m in matrices {
            let grids: [(String, (Int, Int) -> Bool)] = [
                ("ingress", m.ingressAllows), ("egress", m.egressAllows), ("combined", m.allowed),
            ]
            for (title, cell) in grids {
                out.append("\(m.port)/\(m.proto.rawValue) \(title) (rows: from, columns: to; . allowed, X denied)\n")
                out.append(header)
                for f in shown {
                    out.append(line(names[f], shown.map { cell(f, $0) ? "." : "X" }))
                }
                out.append("\n")
            }
        }
    }

    /// `{"pods": [...], "results": [{"port", "protocol", "allowed", "ingress", "egress"}]}`
    /// where each of the last three is rows (from) of columns (to) of booleans.
    private func writeJSON(_ out: inout ChunkedBytes) {
        guard let names = matrices.first?.pods else {
            out.append("{\"pods\": [], \"results\": []}\n")
            return
        }
        // Pod keys are DNS names: nothing in them needs escaping.
        out.append("{\n  \"pods\": [" + shown.map { "\"\(names[$0])\"" }.joined(separator: ", ") + "],\n  \"results\": [")
        for (i, m) in matrices.enumerated() {
            out.append(i == 0 ? "\n" : ",\n")
            out.append("    {\"port\": \(m.port), \"protocol\": \"\(m.proto.rawValue)\"")
            let grids: [(String, (Int, Int) -> Bool)] = [
                ("allowed", m.allowed), ("ingress", m.ingressAllows), ("egress", m.egressAllows),
            ]
            for (key, cell) in grids {
                out.append(",\n     \"\(key)\": [")
                for (r, f) in shown.enumerated() {
                    out.append(r == 0 ? "[" : ", [")
                    for (c, t) in shown.enumerated() {
                        if c > 0 { out.append(",") }
                        out.append(cell(f, t) ? "true" : "false")
                    }
                    out.append("]")
                }
                out.append("]")
            }
            out.append("}")
        }
        out.append("\n  ]\n}\n")
    }
}

/// Bytes gathered into chunks of about 1 MiB, each handed to `flush`.
private struct ChunkedBytes {
    private static let chunk = 1 << 20
    private var buffer: [UInt8] = []
    let flush: ([UInt8]) -> Void

    init(flush: @escaping ([UInt8]) -> Void) {
        self.flush = flush
        buffer.reserveCapacity(Self.chunk + 4096)
    }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        flushIfFull()
    }

    mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        flushIfFull()
    }

    mutating func finish() {
        if !buffer.isEmpty { flush(buffer) }
        buffer.removeAll()
    }

    private mutating func flushIfFull() {
        guard buffer.count >= Self.chunk else { return }
        flush(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
