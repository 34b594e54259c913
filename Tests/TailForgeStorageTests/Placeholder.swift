import CHDF5
import Testing

@Suite struct LinkTests {
    @Test func hdf5LibraryOpens() { #expect(H5open() >= 0) }
}
