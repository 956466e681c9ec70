namespace ModelBuild.IntegrationTests;

/// <summary>
/// A console app in a temp folder that references the package under test, with copies of the small wine-mlp files
/// (teacher.onnx 281 KB, calib_x.npy, test_x.npy, test_y.npy) so tests can change them freely.
/// </summary>
internal sealed class ThrowAwayProject : IDisposable
{
    public string Directory { get; }
    private readonly PackageFixture package;

    public ThrowAwayProject(PackageFixture package, string compressModelItems, string extraProperties = "", string? directory = null)
    {
        this.package = package;
        Directory = directory ?? System.IO.Directory.CreateTempSubdirectory("mb-it-").FullName;
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var file in new[] { "teacher.onnx", "calib_x.npy", "test_x.npy", "test_y.npy" })
        {
            File.Copy(Path.Combine(RepositoryPaths.WineTeacher, file), Path.Combine(Directory, file), overwrite: true);
            File.SetAttributes(Path.Combine(Directory, file), FileAttributes.Normal); // shared/ is read-only
        }
        File.WriteAllText(Path.Combine(Directory, "nuget.config"), package.NuGetConfig);
        File.WriteAllText(Path.Combine(Directory, "Program.cs"), "System.Console.WriteLine(System.IO.File.Exists(\"models/wine.onnx\"));\n");
        WriteProject(compressModelItems, extraProperties);
    }

    public void WriteProject(string compressModelItems, string extraProperties = "") =>
        File.WriteAllText(Path.Combine(Directory, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                {extraProperties}
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ModelBuild" Version="{package.Version}" />
                {compressModelItems}
              </ItemGroup>
            </Project>
            """);

    public string PathOf(string relative) => Path.Combine(Directory, relative);

    /// <summary>Environment variables every build of this project gets (null removes one).</summary>
    public Dictionary<string, string?> Environment { get; } = new();

    public DotnetCommand.Result Build(params string[] extra) => StartBuild(extra).Wait(TimeSpan.FromMinutes(10));

    public DotnetCommand.Running StartBuild(params string[] extra) => DotnetCommand.Start(Directory, Environment, ["build", "-v:n", .. extra]);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }

    /// <summary>
    /// The item most tests use: static int8 with the wine calibration set, to models/wine.onnx. Force="true": the
    /// worker otherwise ships the float model when int8 measures slower on this CPU at that moment (its latency
    /// fallback, MB0205), which on a busy machine would make the output depend on the load.
    /// </summary>
    public const string WineInt8Static = """<CompressModel Include="teacher.onnx" OutputName="models/wine.onnx" Quantize="int8-static" CalibrationData="calib_x.npy" Force="true" />""";

    /// <summary>The message the task logs when it starts the worker (and only then).</summary>
    public const string WorkerStarted = "starting worker";
}
