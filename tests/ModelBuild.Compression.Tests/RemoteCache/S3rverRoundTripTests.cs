using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using ModelBuild.Compression.RemoteCache;

namespace ModelBuild.Compression.Tests.RemoteCache;

/// <summary>
/// The S3 store against a real S3-compatible server: s3rver 3.7.1 (npm), installed by .ci/run into
/// artifacts/tools/s3rver and started here on a free loopback port. s3rver ignores If-None-Match on PUT, so the
/// first-writer-wins race is covered for Azure (Azurite) and by S3RemoteStoreTests' request checks, not here.
/// </summary>
public sealed class S3rverRoundTripTests : IDisposable
{
    private readonly string data = Directory.CreateTempSubdirectory("mb-s3rver-").FullName;
    private readonly string entry = Directory.CreateTempSubdirectory("mb-s3-entry-").FullName;
    private Process? server;

    public void Dispose()
    {
        try { if (server is { HasExited: false }) server.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        server?.Dispose();
        Directory.Delete(data, recursive: true);
        Directory.Delete(entry, recursive: true);
    }

    private int Start()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "ModelBuild.sln"))) root = Path.GetDirectoryName(root)!;
        var executable = Path.Combine(root, "artifacts", "tools", "s3rver", "node_modules", ".bin", "s3rver");
        if (!File.Exists(executable))
        {
            var message = "s3rver is not installed: run `npm install --prefix artifacts/tools/s3rver s3rver@3.7.1` (what .ci/run does).";
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))) throw new InvalidOperationException(message);
            throw new Xunit.SkipException(message);
        }
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-d", data, "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent", "--configure-bucket", "team-cache" })
            start.ArgumentList.Add(a);
        server = Process.Start(start)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return port;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !server.HasExited)
            {
                Thread.Sleep(100);
            }
        }
    }

    [SkippableFact]
    public void Publish_fetch_and_list_round_trip_through_the_real_SDK()
    {
        var port = Start();
        File.WriteAllBytes(Path.Combine(entry, "model.onnx"), Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray());
        File.WriteAllText(Path.Combine(entry, "report.json"), "{\"ok\":true}");
        var settings = RemoteCacheSettings.Parse("s3://team-cache/modelbuild", signingKey: "ci-key");
        IRemoteCacheStore Store() => new S3RemoteStore(new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), S3RemoteStore.CreateConfig($"http://127.0.0.1:{port}")), settings);
        var log = new RecordingLog();
        var key = new string('d', 64);

        Assert.True(new RemoteCacheClient(Store(), RemoteCacheMode.ReadWrite, "ci-key", log).Publish(RemoteCacheLayout.StageKind, key, entry, "distill stage"));
        Assert.False(new RemoteCacheClient(Store(), RemoteCacheMode.ReadWrite, "ci-key", log).Publish(RemoteCacheLayout.StageKind, key, entry, "distill stage"));
        var into = Path.Combine(entry, "fetched");
        Assert.True(new RemoteCacheClient(Store(), RemoteCacheMode.Read, "ci-key", log).TryFetch(RemoteCacheLayout.StageKind, key, into, "distill stage"), string.Join("\n", log.Warnings));
        Assert.Equal(File.ReadAllBytes(Path.Combine(entry, "model.onnx")), File.ReadAllBytes(Path.Combine(into, "model.onnx")));
        Assert.False(new RemoteCacheClient(Store(), RemoteCacheMode.Read, "another-key", log).TryFetch(RemoteCacheLayout.StageKind, key, Path.Combine(entry, "untrusted"), "distill stage"));
        Assert.Contains(log.Warnings, w => w.StartsWith("MB0626", StringComparison.Ordinal));

        var names = new List<string>();
        var objects = Store().ListAsync(RemoteCacheLayout.Root, CancellationToken.None).GetAsyncEnumerator();
        while (objects.MoveNextAsync().AsTask().GetAwaiter().GetResult()) names.Add(objects.Current.Name);
        Assert.Contains($"modelbuild-cache-v1/stages/{key}.json", names);
        Assert.Equal(2, names.Count(n => n.StartsWith("modelbuild-cache-v1/blobs/", StringComparison.Ordinal)));
    }
}
