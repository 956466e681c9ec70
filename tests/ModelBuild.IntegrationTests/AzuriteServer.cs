using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// A real Azure Blob Storage emulator (Azurite, npm package <c>azurite</c>) on a free loopback port, with its data in
/// a temp folder; stopped and removed on dispose. .ci/run installs Azurite into artifacts/tools/azurite when it is
/// missing; a developer machine without it skips these tests (under CI=true they fail instead).
/// </summary>
public sealed class AzuriteServer : IDisposable
{
    /// <summary>Azurite's well-known development account (public, documented by Microsoft; not a secret).</summary>
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process process;
    private readonly string dataDirectory;

    public int Port { get; }
    public string BlobEndpoint => $"http://127.0.0.1:{Port}/{AccountName}";
    public string ConnectionString => ConnectionStringWithKey(AccountKey);
    public string ConnectionStringWithKey(string key) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={key};BlobEndpoint={BlobEndpoint};";

    private AzuriteServer(string executable)
    {
        Port = FreePort();
        dataDirectory = Directory.CreateTempSubdirectory("mb-azurite-").FullName;
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--location", dataDirectory, "--silent", "--skipApiVersionCheck", "--loose" })
            start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!Accepts(Port))
        {
            if (process.HasExited) throw new InvalidOperationException($"Azurite exited with code {process.ExitCode} on port {Port}.");
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"Azurite did not listen on port {Port} within 60 s.");
            Thread.Sleep(100);
        }
    }

    /// <summary>Starts Azurite; skips the test when it is not installed (fails under CI, where .ci/run installs it).</summary>
    public static AzuriteServer Start()
    {
        var executable = FindExecutable();
        if (executable is null)
        {
            var message = "Azurite is not installed: run `npm install --prefix artifacts/tools/azurite azurite` (what .ci/run does).";
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))) throw new InvalidOperationException(message);
            throw new Xunit.SkipException(message);
        }
        return new AzuriteServer(executable);
    }

    private static string? FindExecutable()
    {
        var local = Path.Combine(RepositoryPaths.Root, "artifacts", "tools", "azurite", "node_modules", ".bin", "azurite-blob");
        if (File.Exists(local)) return local;
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(folder, "azurite-blob");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Stops the emulator the hard way (what a store going away mid-build looks like).</summary>
    public void Kill()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
        try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>One Azurite for a test class (each test uses its own container).</summary>
public sealed class AzuriteFixture : IDisposable
{
    private readonly Lazy<AzuriteServer> server = new(AzuriteServer.Start);
    public AzuriteServer Server => server.Value;
    public void Dispose()
    {
        if (server.IsValueCreated) server.Value.Dispose();
    }
}
