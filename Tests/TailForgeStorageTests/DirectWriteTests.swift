import CTailForgeDirectWrite
import Foundation
import Testing
@testable import TailForgeStorage
import TailForgeTestSupport

/// Files written with their rows past the page cache (CTailForgeDirectWrite's driver) must be the files sec2 writes,
/// byte for byte: replay, the recorded digests and every reader depend on it.
@Suite struct DirectWriteTests {
    /// Whether the filesystem holding `directory` takes O_DIRECT (tmpfs does not): the driver then uses sec2 as it is.
    static func takesDirectIO(_ directory: String) -> Bool {
        let probe = directory + "/direct-probe"
        FileManager.default.createFile(atPath: probe, contents: Data(count: 4096))
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let descriptor = tailforge_open_direct_read(probe)
        guard descriptor >= 0 else { return false }
        close(descriptor)
        return true
    }

    /// Fraction of `path`'s pages in the page cache (mincore).
    static func residentFraction(_ path: String) -> Double {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return -1 }
        defer { close(descriptor) }
        let size = Int(lseek(descriptor, 0, SEEK_END))
        guard size > 0, let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else { return -1 }
        defer { munmap(mapping, size) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var resident = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
        guard mincore(mapping, size, &resident) == 0 else { return -1 }
        return Double(resident.filter { $0 & 1 == 1 }.count) / Double(resident.count)
    }

    private func writeBalanced(_ rows: SampleRows, to path: String, pastPageCache: Bool) throws -> String? {
        // 1,000-row chunks of 300 floats are 1.2 MB (the driver takes raw writes from 1 MiB), at offsets HDF5 picks
        // after its metadata, none of them page-aligned: every write has a head, an aligned middle and a tail.
        let writer = try BalancedDatasetWriter(
            path: path, dimension: rows.dimension, totalRows: rows.count, attributes: BalancedDatasetWriterTests.attributes,
            classNames: ["a", "b", "c"], chunkRows: 1_000, pastPageCache: pastPageCache)
        // Appends that straddle chunk boundaries (the writer completes a chunk from two of them).
        let batches = [700, 1_000, rows.count - 1_700].filter { $0 > 0 }
        try append(rows, to: writer, batches: rows.count > 1_700 ? batches : [700, rows.count - 700])
        return try writer.commit(attributes: ["late": .string("known at commit")], digestingFile: true)()
    }

    @Test func rowsPastThePageCacheAreTheBytesSec2Writes() throws {
        let directory = TemporaryDirectory("direct-write")
        let rows = SampleRows(dimension: 300, count: 2_345)  // two whole chunks and a partial one
        let direct = Self.takesDirectIO(directory.path)
        let before = tailforge_direct_write_bytes()
        let pastDigest = try writeBalanced(rows, to: directory.file("past.h5"), pastPageCache: true)
        let written = tailforge_direct_write_bytes() - before
        if direct {
            // The rows did not go through the page cache (read before anything below reads the file through it) ...
            #expect(Self.residentFraction(directory.file("past.h5")) < 0.5)
            // ... but past it: three chunks of 1.2 MB less each one's head and tail (under 4 KB each). Other tests
            // may add to the process-wide count, never take from it.
            #expect(written >= 3 * (1_200_000 - 2 * 4_096))
        } else {
            print("skipping the page-cache checks: \(directory.path) does not take O_DIRECT")
        }
        let cachedDigest = try writeBalanced(rows, to: directory.file("cached.h5"), pastPageCache: false)
        #expect(pastDigest != nil)
        #expect(pastDigest == cachedDigest)
        #expect(try pastDigest == SHA256.hexDigest(ofFileAt: directory.file("past.h5")))
        #expect(try FileManager.default.contents(atPath: directory.file("past.h5")) == FileManager.default.contents(atPath: directory.file("cached.h5")))
        let output = try BalancedDatasetFile(path: directory.file("past.h5"))
        let readBefore = tailforge_direct_read_bytes()
        #expect(try output.readEmbeddings(rows: 0..<rows.count) == rows.embeddings)
        if direct {
            // The rows come back past the page cache too, and are the rows written.
            #expect(tailforge_direct_read_bytes() - readBefore >= 2 * (1_200_000 - 2 * 4_096))
        }
        #expect(try output.readKappa() == rows.kappa)
        #expect(directory.contents == ["cached.h5", "past.h5"])
    }

    /// A file whose pages are partly dirty in the page cache (written through sec2, not yet on disk) reads back the
    /// same through the driver: an O_DIRECT read flushes the range first.
    @Test func readingPastThePageCacheSeesBufferedWrites() throws {
        let directory = TemporaryDirectory("direct-read")
        let rows = SampleRows(dimension: 300, count: 2_345)
        _ = try writeBalanced(rows, to: directory.file("cached.h5"), pastPageCache: false)
        let output = try BalancedDatasetFile(path: directory.file("cached.h5"))
        #expect(try output.readEmbeddings(rows: 0..<rows.count) == rows.embeddings)
        #expect(try output.readEmbeddings(rows: 1_001..<2_002) == Array(rows.embeddings[1_001 * 300..<2_002 * 300]))
    }

    /// tmpfs refuses O_DIRECT before Linux 6.6 (the driver then writes through sec2) and takes it since: the same
    /// bytes either way.
    @Test func aTmpfsGetsTheSameBytes() throws {
        guard let mount = ScratchMount(size: "32m") else { return }
        let rows = SampleRows(dimension: 300, count: 2_345)
        let local = TemporaryDirectory("direct-write")
        print("tmpfs \(Self.takesDirectIO(mount.path) ? "takes" : "refuses") O_DIRECT here")
        let onTmpfs = try writeBalanced(rows, to: mount.file("past.h5"), pastPageCache: true)
        let reference = try writeBalanced(rows, to: local.file("cached.h5"), pastPageCache: false)
        #expect(onTmpfs != nil)
        #expect(onTmpfs == reference)
        #expect(mount.contents == ["past.h5"])
    }

    /// A full disk under a write past the page cache is the same clean failure as under sec2's: `writeFailed`, the
    /// errno in the message, nothing left behind.
    /// Writes past the page cache are finished by a writer thread while the caller goes on, so the failure may be
    /// found by the next write (2,345 rows: the second of three chunks does not fit) or only when HDF5 flushes and
    /// closes the file (1,500 rows: the last chunk is the one that does not fit).
    @Test(arguments: [2_345, 1_500])
    func diskFullPastThePageCacheFailsCleanly(rowCount: Int) throws {
        guard let mount = ScratchMount(size: "2m") else { return }
        let rows = SampleRows(dimension: 300, count: rowCount)  // 2.8 / 1.8 MB of rows, in 1.2 MB chunks
        var failure: StorageError?
        do { _ = try writeBalanced(rows, to: mount.file("out.h5"), pastPageCache: true) } catch let error as StorageError {
            failure = error
        }
        guard case .writeFailed(let path, let underlying) = failure else {
            Issue.record("expected writeFailed, got \(String(describing: failure))")
            return
        }
        #expect(path == mount.file("out.h5"))
        #expect(underlying.stack.contains("No space left on device"), "\(underlying)")
        #expect(mount.contents == [])
    }

    @Test(arguments: [0, 1, 4_095, 4_096, 4_097, 8 << 20, (8 << 20) - 1, (8 << 20) + 4_097, (16 << 20) + 5])
    func digestReadPastThePageCacheEqualsThePlainOne(bytes: Int) throws {
        let directory = TemporaryDirectory("direct-read")
        guard Self.takesDirectIO(directory.path) else {
            print("skipping: \(directory.path) does not take O_DIRECT")
            return
        }
        let path = directory.file("data")
        var generator = UInt64(bytes) &+ 0x9E37_79B9_7F4A_7C15
        let content = (0..<bytes).map { _ in
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: generator >> 33)
        }
        FileManager.default.createFile(atPath: path, contents: Data(content))
        let descriptor = try #require(SHA256.openForDigestPastPageCache(path))
        defer { close(descriptor) }
        #expect(try SHA256.hexDigestPastPageCache(ofOpenFile: descriptor, path: path) == SHA256.hexDigest(of: content))
    }
}
